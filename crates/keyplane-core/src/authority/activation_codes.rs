//! SMC activation codes: minting, listing, disabling and deleting them, and the migration
//! agent's registration of a source server, which redeems one use of a code.

use super::{with_fresh_identifiers, Authority, RequestContext};
use crate::error::CoreError;
use crate::model::{
    ActivationCode, ActivationCodeStatus, IssuedActivationCode, Redemption, Secret, SourceServer,
};
use crate::rules;
use crate::validation::Field;

/// A request to mint an SMC activation code; `None` fields take the documented defaults.
#[derive(Debug, Clone, Default)]
pub struct NewActivationCodeRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub count: Option<u32>,
    pub time_to_live_days: Option<u32>,
}

/// Which activation codes a listing wants; every given criterion must match.
#[derive(Debug, Clone, Default)]
pub struct ActivationCodeFilter {
    pub ids: Option<Vec<String>>,
    pub name: Option<String>,
    pub status: Option<ActivationCodeStatus>,
}

/// What [`Authority::change_activation_code`] does to an activation code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationCodeChange {
    /// It can no longer be redeemed.
    Disable,
    /// It is gone; its registrations stay on record.
    Delete,
}

/// What a migration agent presents to register its source server.
#[derive(Debug, Clone)]
pub struct RegistrationRequest {
    pub activation_code_id: String,
    pub code: Secret,
    pub name: String,
    pub hostname: String,
    pub operating_system: String,
    pub fingerprint: String,
}

impl Authority {
    /// Mints an SMC activation code.
    pub async fn create_activation_code(
        &self,
        context: &RequestContext,
        request: NewActivationCodeRequest,
    ) -> Result<IssuedActivationCode, CoreError> {
        let caller = context.authorized_caller()?;
        let name = request.name.unwrap_or_default();
        if !name.is_empty() {
            rules::check_activation_code_name(&name)?;
        }
        let description = request.description.unwrap_or_default();
        rules::check_activation_code_description(&description)?;
        let count = request
            .count
            .unwrap_or(rules::DEFAULT_ACTIVATION_CODE_COUNT);
        rules::check_activation_code_count(count)?;
        let days = request
            .time_to_live_days
            .unwrap_or(rules::DEFAULT_ACTIVATION_CODE_DAYS);
        rules::check_activation_code_days(days)?;
        with_fresh_identifiers(|| {
            let code = self.factory.new_activation_code();
            let activation_code = ActivationCode {
                id: self.factory.new_activation_code_id(),
                account_id: caller.account_id,
                name: name.clone(),
                description: description.clone(),
                code_hash: self.factory.hash_bearer(code.expose()),
                count,
                registered_count: 0,
                time_to_live_days: days,
                disabled: false,
                created_at: context.now,
                expires_at: context.now + time::Duration::days(i64::from(days)),
            };
            let audit = context.success(activation_code.id.clone());
            let created = self.store.create_activation_code(activation_code, audit);
            async move {
                let activation_code = created.await?;
                Ok(IssuedActivationCode {
                    activation_code,
                    code,
                })
            }
        })
        .await
    }

    /// The account's activation codes matching `filter`, with their status at `context.now`:
    /// the total count and the page at `offset`/`limit`.
    pub async fn list_activation_codes(
        &self,
        context: &RequestContext,
        filter: &ActivationCodeFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ActivationCode>), CoreError> {
        let caller = context.authorized_caller()?;
        let matching: Vec<ActivationCode> = self
            .store
            .list_activation_codes(caller.account_id)
            .await?
            .into_iter()
            .filter(|code| {
                filter.ids.as_ref().is_none_or(|ids| ids.contains(&code.id))
                    && filter.name.as_ref().is_none_or(|name| *name == code.name)
                    && filter
                        .status
                        .is_none_or(|status| code.status(context.now) == status)
            })
            .collect();
        let total = matching.len();
        Ok((
            total,
            matching.into_iter().skip(offset).take(limit).collect(),
        ))
    }

    /// Disables an activation code (it can no longer be redeemed) or deletes it (its
    /// registrations stay on record).
    pub async fn change_activation_code(
        &self,
        context: &RequestContext,
        code_id: &str,
        change: ActivationCodeChange,
    ) -> Result<(), CoreError> {
        let (account_id, audit) = context.authorized_change(code_id)?;
        let store = &self.store;
        match change {
            ActivationCodeChange::Disable => {
                store
                    .disable_activation_code(account_id, code_id, audit)
                    .await?;
            }
            ActivationCodeChange::Delete => {
                store
                    .delete_activation_code(account_id, code_id, audit)
                    .await?;
            }
        }
        Ok(())
    }

    /// Registers a migration source by redeeming one use of an activation code. The code is
    /// checked against its stored hash in constant time; an unknown id and a wrong code are
    /// the same failure (`ActivationCodeInvalid`), so ids cannot be probed. The store then
    /// decides atomically (see `Store::redeem_activation_code`).
    pub async fn redeem_activation_code(
        &self,
        context: &RequestContext,
        request: RegistrationRequest,
    ) -> Result<Redemption, CoreError> {
        rules::check_source_server_field(Field::SourceServerName, &request.name, 1, 128)?;
        rules::check_source_server_field(Field::SourceServerHostname, &request.hostname, 1, 255)?;
        rules::check_source_server_field(
            Field::SourceServerOperatingSystem,
            &request.operating_system,
            1,
            128,
        )?;
        rules::check_source_server_field(
            Field::SourceServerFingerprint,
            &request.fingerprint,
            8,
            256,
        )?;
        let stored = self
            .store
            .activation_code(&request.activation_code_id)
            .await?;
        let Some(stored) = stored.filter(|stored| {
            self.factory
                .bearer_matches(request.code.expose(), &stored.code_hash)
        }) else {
            return Err(CoreError::ActivationCodeInvalid);
        };
        with_fresh_identifiers(|| {
            let server = SourceServer {
                id: self.factory.new_source_server_id(),
                account_id: stored.account_id,
                activation_code_id: stored.id.clone(),
                name: request.name.clone(),
                hostname: request.hostname.clone(),
                operating_system: request.operating_system.clone(),
                fingerprint: request.fingerprint.clone(),
                source_address: context.source_address.clone(),
                registered_at: context.now,
            };
            let mut audit = context.success(server.id.clone());
            audit.account_id = Some(stored.account_id);
            audit.key_id = Some(stored.id.clone());
            self.store.redeem_activation_code(server, audit)
        })
        .await
    }

    /// The source servers registered in an account (optionally with one code), for operators.
    pub async fn source_servers(
        &self,
        account_id: u64,
        activation_code_id: Option<&str>,
    ) -> Result<Vec<SourceServer>, CoreError> {
        Ok(self
            .store
            .list_source_servers(account_id, activation_code_id)
            .await?)
    }
}
