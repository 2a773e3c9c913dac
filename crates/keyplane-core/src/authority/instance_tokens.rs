//! Instance tokens: issued for one worker of a registered EAS instance (one per purpose:
//! workbench, terminal, log stream), redeemed once by the terminal gateway into the session to
//! open, and expired.

use time::OffsetDateTime;

use super::{with_fresh_identifiers, Authority, RequestContext};
use crate::error::CoreError;
use crate::instance_access::InstancePermission;
use crate::model::{
    InstanceSession, InstanceToken, InstanceTokenPurpose, IssuedInstanceTokens, Secret,
};
use crate::store::TokenRedemption;
use crate::template::TemplateValues;

/// How long an expired instance token is kept (so that presenting it is answered "expired" or
/// "used" rather than "not valid") before [`Authority::expire_instance_tokens`] removes it.
pub const INSTANCE_TOKEN_RETENTION: time::Duration = time::Duration::days(1);

/// Which worker `CreateServiceInstanceToken` asks tokens for; `worker: None` means the
/// instance's first worker.
#[derive(Debug, Clone)]
pub struct InstanceTokenRequest {
    pub cluster: String,
    pub service: String,
    pub instance: String,
    pub worker: Option<String>,
}

impl Authority {
    /// Issues single-use tokens for one worker of a registered instance (EAS
    /// `CreateServiceInstanceToken`): one per [`InstanceTokenPurpose`], each valid for the
    /// configured time to live, stored only as hashes, bound to the caller's account,
    /// principal and key, and audited.
    pub async fn create_instance_tokens(
        &self,
        context: &RequestContext,
        request: InstanceTokenRequest,
    ) -> Result<IssuedInstanceTokens, CoreError> {
        let caller = context.authorized_caller()?;
        let (service, instance, worker) = self
            .resolve_worker(
                caller.account_id,
                &request.cluster,
                &request.service,
                &request.instance,
                request.worker.as_deref(),
            )
            .await?;
        let expires_at = context.now + self.config.instance_token_ttl;
        let (grant_id, [workbench, terminal, streamlog]) = with_fresh_identifiers(|| {
            let grant_id = self.factory.new_instance_token_grant_id();
            let secrets = InstanceTokenPurpose::ALL.map(|_| self.factory.new_instance_token());
            let tokens: Vec<InstanceToken> = InstanceTokenPurpose::ALL
                .iter()
                .zip(&secrets)
                .map(|(purpose, secret)| InstanceToken {
                    token_hash: self.factory.hash_bearer(secret.expose()),
                    grant_id: grant_id.clone(),
                    purpose: *purpose,
                    account_id: caller.account_id,
                    principal_uin: caller.uin,
                    key_id: caller.key_id.clone(),
                    cluster: service.cluster.clone(),
                    service: service.name.clone(),
                    instance: instance.name.clone(),
                    worker: worker.clone(),
                    created_at: context.now,
                    expires_at,
                    used_at: None,
                })
                .collect();
            let audit = context.success(tokens[0].audit_target());
            let created = self.store.create_instance_tokens(tokens, audit);
            async move { created.await.map(|()| (grant_id, secrets)) }
        })
        .await?;
        Ok(IssuedInstanceTokens {
            grant_id,
            cluster: service.cluster,
            service: service.name,
            instance: instance.name,
            worker,
            expires_at,
            workbench,
            terminal,
            streamlog,
        })
    }

    /// Redeems an instance token for `purpose`: the terminal gateway's entry point. The token
    /// must have been issued for that purpose (else `InstanceTokenInvalid`, the same answer as
    /// for an unknown token), be unused (`InstanceTokenUsed`) and unexpired at `context.now`
    /// (`InstanceTokenExpired`), the key that asked for it still active and its principal
    /// still allowed `permission` on the service (`InstanceTokenRevoked`, `AccessDenied`; see
    /// [`Authority::check_instance_access`]), and its worker must still be registered
    /// (`EasServiceNotFound`, `EasInstanceNotFound`, `EasWorkerNotFound`). The store then
    /// burns it atomically across every node, writing the audit event (attributed to the
    /// principal and key that asked for the token, with `context.action`, which should be
    /// [`InstanceTokenPurpose::redemption_action`]) in the same transaction. Returns the
    /// session to open: whose, which worker, and the expanded command (exec template for the
    /// workbench and terminal, log template for the log stream). Refusals are the caller's to
    /// audit, as with every other request.
    pub async fn redeem_instance_token(
        &self,
        context: &RequestContext,
        purpose: InstanceTokenPurpose,
        token: &Secret,
        permission: InstancePermission,
    ) -> Result<InstanceSession, CoreError> {
        let (token_hash, stored) = self
            .unused_instance_token(purpose, token, context.now)
            .await?;
        // Revocation reaches tokens issued before it (see `instance_access`).
        self.check_instance_access(context, stored.grant(), permission)
            .await?;
        let (service, _, worker) = self
            .resolve_worker(
                stored.account_id,
                &stored.cluster,
                &stored.service,
                &stored.instance,
                Some(&stored.worker),
            )
            .await?;
        let mut audit = context.success(stored.audit_target());
        audit.account_id = Some(stored.account_id);
        audit.principal_uin = Some(stored.principal_uin);
        audit.key_id = Some(stored.key_id.clone());
        let burned = self
            .store
            .burn_instance_token(
                TokenRedemption::new(&token_hash, purpose, context.now),
                audit,
            )
            .await?;
        let template = match purpose {
            InstanceTokenPurpose::Workbench | InstanceTokenPurpose::Terminal => {
                &service.exec_template
            }
            InstanceTokenPurpose::Streamlog => &service.log_template,
        };
        let command = template.expand(&TemplateValues {
            cluster: &burned.cluster,
            service: &burned.service,
            instance: &burned.instance,
            worker: &worker,
        });
        Ok(InstanceSession {
            grant_id: burned.grant_id,
            purpose,
            account_id: burned.account_id,
            principal_uin: burned.principal_uin,
            key_id: burned.key_id,
            cluster: burned.cluster,
            service: burned.service,
            instance: burned.instance,
            worker,
            command,
            token_expires_at: burned.expires_at,
        })
    }

    /// The stored token for `purpose` (with its hash), provided it is unused and unexpired.
    pub(crate) async fn unused_instance_token(
        &self,
        purpose: InstanceTokenPurpose,
        token: &Secret,
        now: OffsetDateTime,
    ) -> Result<(Vec<u8>, InstanceToken), CoreError> {
        let token_hash = self.factory.hash_bearer(token.expose());
        let stored = self
            .store
            .instance_token(&token_hash)
            .await?
            .filter(|stored| stored.purpose == purpose)
            .ok_or(CoreError::InstanceTokenInvalid)?;
        if stored.used_at.is_some() {
            return Err(CoreError::InstanceTokenUsed);
        }
        if stored.is_expired(now) {
            return Err(CoreError::InstanceTokenExpired);
        }
        Ok((token_hash, stored))
    }

    /// Removes instance tokens that expired more than [`INSTANCE_TOKEN_RETENTION`] before
    /// `now`; returns how many.
    pub async fn expire_instance_tokens(&self, now: OffsetDateTime) -> Result<u64, CoreError> {
        Ok(self
            .store
            .forget_expired_instance_tokens(now - INSTANCE_TOKEN_RETENTION)
            .await?)
    }
}
