//! API keys on PostgreSQL: every write is a group-commit operation, the limit decided under
//! the account's row lock.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{ApiKey, ApiKeyType};
use keyplane_core::store::UpdateApiKey;
use keyplane_core::store::{ApiKeyChange, ApiKeyStore, StoreError};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::access_keys::decode_sealed;
use super::protocol::{Operation, OperationKind, Outcome};
use super::{backend, decode, select_all, select_one, time_column, PostgresStore};
use crate::codec::{as_i64, as_u64, nanos, tags_from_json, tags_to_json};

const API_KEY_COLUMNS: &str = "id, account_id, key_type, secret_name, enabled, tags, \
     secret_key_version, secret_ciphertext, created_at, updated_at";

fn decode_api_key(row: &PgRow) -> Result<ApiKey, StoreError> {
    let key_type: String = row.try_get("key_type").map_err(backend)?;
    let tags: String = row.try_get("tags").map_err(backend)?;
    Ok(ApiKey {
        id: row.try_get("id").map_err(backend)?,
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        key_type: ApiKeyType::parse(&key_type)
            .ok_or_else(|| StoreError::Backend(format!("unknown API key type {key_type}")))?,
        secret_name: row.try_get("secret_name").map_err(backend)?,
        enabled: row.try_get("enabled").map_err(backend)?,
        tags: decode(tags_from_json(&tags))?,
        sealed_secret: decode_sealed(row)?,
        created_at: time_column(row, "created_at")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

#[async_trait]
impl ApiKeyStore for PostgresStore {
    async fn create_api_key_within_limit(
        &self,
        key: ApiKey,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let operation = Operation {
            id: Some(key.id.clone()),
            account_id: Some(as_i64(key.account_id)),
            key_type: Some(key.key_type.as_str().to_owned()),
            secret_name: Some(key.secret_name.clone()),
            enabled: Some(key.enabled),
            tags: Some(tags_to_json(&key.tags)),
            secret_key_version: Some(i64::from(key.sealed_secret.key_version)),
            secret_ciphertext: Some(key.sealed_secret.ciphertext.clone()),
            at_time: Some(nanos(key.created_at)),
            updated_at_time: Some(nanos(key.updated_at)),
            quota: Some(i64::from(limit)),
            ..Operation::of_kind(OperationKind::CreateApiKey)
        };
        match self.write_one(operation.audited(audit)).await?.1 {
            Outcome::Created => Ok(key),
            Outcome::AlreadyExists => Err(StoreError::ApiKeyAlreadyExists),
            Outcome::LimitExceeded => Err(StoreError::ApiKeyLimitExceeded { limit }),
            other => Err(other.unexpected()),
        }
    }

    async fn api_key(&self, account_id: u64, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        select_one(
            &self.pool,
            sqlx::query(&format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE account_id = $1 AND id = $2"
            ))
            .bind(as_i64(account_id))
            .bind(key_id),
            decode_api_key,
        )
        .await
    }

    async fn list_api_keys(&self, account_id: u64) -> Result<Vec<ApiKey>, StoreError> {
        select_all(
            &self.pool,
            sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE account_id = $1 ORDER BY created_at, id"
        ))
            .bind(as_i64(account_id)),
            decode_api_key,
        )
        .await
    }

    async fn update_api_key(
        &self,
        request: UpdateApiKey<'_>,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let target = |kind| Operation {
            id: Some(request.key_id.to_owned()),
            account_id: Some(as_i64(request.account_id)),
            at_time: Some(nanos(request.now)),
            ..Operation::of_kind(kind)
        };
        let operation = match request.change {
            ApiKeyChange::SetEnabled(enabled) => Operation {
                enabled: Some(enabled),
                ..target(OperationKind::SetApiKeyEnabled)
            },
            ApiKeyChange::ReplaceSecret(sealed) => Operation {
                secret_key_version: Some(i64::from(sealed.key_version)),
                secret_ciphertext: Some(sealed.ciphertext),
                ..target(OperationKind::ReplaceApiKeySecret)
            },
        };
        let (row, outcome) = self.write_one(operation.audited(audit)).await?;
        match outcome {
            Outcome::Updated => decode_api_key(&row),
            Outcome::NotFound => Err(StoreError::ApiKeyNotFound),
            other => Err(other.unexpected()),
        }
    }

    async fn delete_api_key(
        &self,
        account_id: u64,
        key_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let operation = Operation {
            id: Some(key_id.to_owned()),
            account_id: Some(as_i64(account_id)),
            ..Operation::of_kind(OperationKind::DeleteApiKey)
        };
        match self.write_one(operation.audited(audit)).await?.1 {
            Outcome::Deleted => Ok(()),
            Outcome::NotFound => Err(StoreError::ApiKeyNotFound),
            other => Err(other.unexpected()),
        }
    }
}
