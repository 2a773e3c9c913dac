//! API Gateway keys: generated or caller-chosen, within the per-account limit, listed with
//! filters, enabled, disabled, given a new secret and deleted.

use super::{Authority, RequestContext, IDENTIFIER_ATTEMPTS};
use crate::error::CoreError;
use crate::model::{ApiKey, ApiKeyType, ApiKeyWithSecret, Secret, Tag};
use crate::rules;
use crate::store::{ApiKeyChange, StoreError, UpdateApiKey};
use crate::validation::{Field, Violation};

/// Which API keys a listing wants; every given criterion must match.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyFilter {
    pub key_ids: Option<Vec<String>>,
    pub secrets: Option<Vec<String>>,
    pub secret_names: Option<Vec<String>>,
    pub enabled: Option<Vec<bool>>,
    pub keywords: Option<Vec<String>>,
}

/// A request to mint an API Gateway key.
#[derive(Debug, Clone)]
pub struct NewApiKeyRequest {
    pub secret_name: String,
    pub key_type: ApiKeyType,
    pub key_id: Option<String>,
    pub secret: Option<Secret>,
    pub tags: Vec<Tag>,
}

impl Authority {
    fn open_api_key(&self, key: ApiKey) -> Result<ApiKeyWithSecret, CoreError> {
        let secret = self.factory.open(&key.id, &key.sealed_secret)?;
        Ok(ApiKeyWithSecret { key, secret })
    }

    /// Mints an API Gateway key: generated (`auto`) or caller-chosen (`manual`).
    pub async fn create_api_key(
        &self,
        context: &RequestContext,
        request: NewApiKeyRequest,
    ) -> Result<ApiKeyWithSecret, CoreError> {
        let caller = context.authorized_caller()?;
        rules::check_secret_name(&request.secret_name)?;
        rules::check_tags(&request.tags)?;
        let manual = match request.key_type {
            ApiKeyType::Auto => None,
            ApiKeyType::Manual => {
                let key_id = request
                    .key_id
                    .clone()
                    .ok_or_else(|| CoreError::invalid(Field::ApiKeyId, Violation::Missing))?;
                let secret = request
                    .secret
                    .clone()
                    .ok_or_else(|| CoreError::invalid(Field::ApiKeySecret, Violation::Missing))?;
                rules::check_manual_api_key_id(&key_id)?;
                rules::check_manual_api_key_secret(secret.expose())?;
                Some((key_id, secret))
            }
        };
        for _ in 0..IDENTIFIER_ATTEMPTS {
            let (key_id, secret) = match &manual {
                Some((key_id, secret)) => (key_id.clone(), secret.clone()),
                None => (
                    self.factory.new_api_key_id(),
                    self.factory.new_api_key_secret(),
                ),
            };
            let key = ApiKey {
                sealed_secret: self.factory.seal(&key_id, &secret),
                id: key_id.clone(),
                account_id: caller.account_id,
                key_type: request.key_type,
                secret_name: request.secret_name.clone(),
                enabled: true,
                tags: request.tags.clone(),
                created_at: context.now,
                updated_at: context.now,
            };
            let audit = context.success(key_id);
            match self
                .store
                .create_api_key_within_limit(key, self.config.api_keys_per_account, audit)
                .await
            {
                Err(StoreError::ApiKeyAlreadyExists) if manual.is_none() => continue,
                Err(error) => return Err(error.into()),
                Ok(key) => return Ok(ApiKeyWithSecret { key, secret }),
            }
        }
        Err(CoreError::Internal)
    }

    /// The account's API keys matching `filter`: the total count and the page at
    /// `offset`/`limit`.
    pub async fn describe_api_keys(
        &self,
        context: &RequestContext,
        filter: &ApiKeyFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ApiKeyWithSecret>), CoreError> {
        let caller = context.authorized_caller()?;
        // Secrets are opened only where needed: for every key when the filter names secrets,
        // otherwise only for the page returned.
        let mut matching: Vec<(ApiKey, Option<Secret>)> = Vec::new();
        for key in self.store.list_api_keys(caller.account_id).await? {
            if !api_key_matches(&key, filter) {
                continue;
            }
            match &filter.secrets {
                Some(secrets) => {
                    let opened = self.open_api_key(key)?;
                    if secrets
                        .iter()
                        .any(|secret| secret == opened.secret.expose())
                    {
                        matching.push((opened.key, Some(opened.secret)));
                    }
                }
                None => matching.push((key, None)),
            }
        }
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(key, secret)| match secret {
                Some(secret) => Ok(ApiKeyWithSecret { key, secret }),
                None => self.open_api_key(key),
            })
            .collect::<Result<_, _>>()?;
        Ok((total, page))
    }

    /// One API key with its secret.
    pub async fn describe_api_key(
        &self,
        context: &RequestContext,
        key_id: &str,
    ) -> Result<ApiKeyWithSecret, CoreError> {
        let (_, key) = self.stored_api_key(context, key_id).await?;
        self.open_api_key(key)
    }

    /// The API key `key_id` of an authorized caller's account, with that account:
    /// `ApiKeyNotFound` when the account has no such key.
    async fn stored_api_key(
        &self,
        context: &RequestContext,
        key_id: &str,
    ) -> Result<(u64, ApiKey), CoreError> {
        let caller = context.authorized_caller()?;
        let key = self
            .store
            .api_key(caller.account_id, key_id)
            .await?
            .ok_or(CoreError::ApiKeyNotFound)?;
        Ok((caller.account_id, key))
    }

    /// Enables or disables an API key.
    pub async fn set_api_key_enabled(
        &self,
        context: &RequestContext,
        key_id: &str,
        enabled: bool,
    ) -> Result<ApiKey, CoreError> {
        let (account_id, audit) = context.authorized_change(key_id)?;
        Ok(self
            .store
            .update_api_key(
                UpdateApiKey::new(
                    account_id,
                    key_id,
                    ApiKeyChange::SetEnabled(enabled),
                    context.now,
                ),
                audit,
            )
            .await?)
    }

    /// Replaces an API key's secret: a manual key takes the caller's new secret (required),
    /// an auto key gets a freshly generated one (a given secret is refused).
    pub async fn update_api_key(
        &self,
        context: &RequestContext,
        key_id: &str,
        new_secret: Option<Secret>,
    ) -> Result<ApiKeyWithSecret, CoreError> {
        let (account_id, existing) = self.stored_api_key(context, key_id).await?;
        let secret = match (existing.key_type, new_secret) {
            (ApiKeyType::Manual, Some(secret)) => {
                rules::check_manual_api_key_secret(secret.expose())?;
                secret
            }
            (ApiKeyType::Manual, None) => {
                return Err(CoreError::invalid(Field::ApiKeySecret, Violation::Missing))
            }
            (ApiKeyType::Auto, Some(_)) => {
                return Err(CoreError::UnsupportedOperation {
                    reason: "the secret of an auto key is generated; omit AccessKeySecret"
                        .to_owned(),
                })
            }
            (ApiKeyType::Auto, None) => self.factory.new_api_key_secret(),
        };
        let audit = context.success(key_id.to_owned());
        let key = self
            .store
            .update_api_key(
                UpdateApiKey::new(
                    account_id,
                    key_id,
                    ApiKeyChange::ReplaceSecret(self.factory.seal(key_id, &secret)),
                    context.now,
                ),
                audit,
            )
            .await?;
        Ok(ApiKeyWithSecret { key, secret })
    }

    /// Deletes an API key.
    pub async fn delete_api_key(
        &self,
        context: &RequestContext,
        key_id: &str,
    ) -> Result<(), CoreError> {
        let (account_id, audit) = context.authorized_change(key_id)?;
        Ok(self.store.delete_api_key(account_id, key_id, audit).await?)
    }
}

/// Whether `key` matches every criterion of `filter` that needs no secret (the secret
/// criterion is checked by the caller, after opening).
fn api_key_matches(key: &ApiKey, filter: &ApiKeyFilter) -> bool {
    let any = |values: &Option<Vec<String>>, test: &dyn Fn(&str) -> bool| {
        values
            .as_ref()
            .is_none_or(|values| values.iter().any(|value| test(value)))
    };
    any(&filter.key_ids, &|value| value == key.id)
        && any(&filter.secret_names, &|value| value == key.secret_name)
        && filter
            .enabled
            .as_ref()
            .is_none_or(|values| values.contains(&key.enabled))
        && any(&filter.keywords, &|value| {
            key.id.contains(value) || key.secret_name.contains(value)
        })
}
