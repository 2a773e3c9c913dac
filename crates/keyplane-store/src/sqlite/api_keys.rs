//! API keys on SQLite: the limit is checked and the key inserted in one job of the single
//! writer.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{ApiKey, ApiKeyType, SealedBlob};
use keyplane_core::store::UpdateApiKey;
use keyplane_core::store::{ApiKeyChange, ApiKeyStore, StoreError};
use rusqlite::{params, Connection, Row};

use super::audit::insert_audit;
use super::worker::backend;
use super::{conversion_error, from_nanos, select_all, select_one, SqliteStore};
use crate::codec::{as_i64, as_u64, nanos, tags_from_json, tags_to_json};

const API_KEY_COLUMNS: &str = "id, account_id, key_type, secret_name, enabled, tags, \
     secret_key_version, secret_ciphertext, created_at, updated_at";

fn decode_api_key(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let key_type: String = row.get(2)?;
    let tags: String = row.get(5)?;
    let tags = tags_from_json(&tags).map_err(conversion_error)?;
    Ok(ApiKey {
        id: row.get(0)?,
        account_id: as_u64(row.get(1)?),
        key_type: ApiKeyType::parse(&key_type)
            .ok_or_else(|| conversion_error(format!("unknown API key type {key_type}")))?,
        secret_name: row.get(3)?,
        enabled: row.get(4)?,
        tags,
        sealed_secret: SealedBlob {
            key_version: row.get(6)?,
            ciphertext: row.get(7)?,
        },
        created_at: from_nanos(row.get(8)?)?,
        updated_at: from_nanos(row.get(9)?)?,
    })
}

fn find_api_key(
    connection: &Connection,
    account_id: u64,
    key_id: &str,
) -> Result<Option<ApiKey>, StoreError> {
    select_one(
        connection,
        &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE account_id = ?1 AND id = ?2"),
        params![as_i64(account_id), key_id],
        decode_api_key,
    )
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key_within_limit(
        &self,
        key: ApiKey,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        self.connections
            .write(move |connection| {
                let exists: bool = connection
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = ?1)",
                        [&key.id],
                        |row| row.get(0),
                    )
                    .map_err(backend)?;
                if exists {
                    return Err(StoreError::ApiKeyAlreadyExists);
                }
                let held: i64 = connection
                    .query_row(
                        "SELECT COUNT(*) FROM api_keys WHERE account_id = ?1",
                        [as_i64(key.account_id)],
                        |row| row.get(0),
                    )
                    .map_err(backend)?;
                if held >= i64::from(limit) {
                    return Err(StoreError::ApiKeyLimitExceeded { limit });
                }
                connection
                    .execute(
                        &format!(
                            "INSERT INTO api_keys ({API_KEY_COLUMNS}) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                        ),
                        params![
                            key.id,
                            as_i64(key.account_id),
                            key.key_type.as_str(),
                            key.secret_name,
                            key.enabled,
                            tags_to_json(&key.tags),
                            key.sealed_secret.key_version,
                            key.sealed_secret.ciphertext,
                            nanos(key.created_at),
                            nanos(key.updated_at),
                        ],
                    )
                    .map_err(backend)?;
                insert_audit(connection, &audit)?;
                Ok(key)
            })
            .await
    }

    async fn api_key(&self, account_id: u64, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        let key_id = key_id.to_owned();
        self.connections
            .read(move |connection| find_api_key(connection, account_id, &key_id))
            .await
    }

    async fn list_api_keys(&self, account_id: u64) -> Result<Vec<ApiKey>, StoreError> {
        self.connections
            .read(move |connection| {
                select_all(
                    connection,
                    &format!(
                        "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE account_id = ?1 \
                         ORDER BY created_at, id"
                    ),
                    [as_i64(account_id)],
                    decode_api_key,
                )
            })
            .await
    }

    async fn update_api_key(
        &self,
        request: UpdateApiKey<'_>,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let (account_id, key_id) = (request.account_id, request.key_id.to_owned());
        let (change, now) = (request.change, request.now);
        self.connections
            .write(move |connection| {
                let mut key =
                    find_api_key(connection, account_id, &key_id)?.ok_or(StoreError::ApiKeyNotFound)?;
                match change {
                    ApiKeyChange::SetEnabled(enabled) => {
                        connection
                            .execute(
                                "UPDATE api_keys SET enabled = ?1, updated_at = ?2 WHERE id = ?3",
                                params![enabled, nanos(now), key_id],
                            )
                            .map_err(backend)?;
                        key.enabled = enabled;
                    }
                    ApiKeyChange::ReplaceSecret(sealed) => {
                        connection
                            .execute(
                                "UPDATE api_keys SET secret_key_version = ?1, secret_ciphertext = ?2, \
                                 updated_at = ?3 WHERE id = ?4",
                                params![sealed.key_version, sealed.ciphertext, nanos(now), key_id],
                            )
                            .map_err(backend)?;
                        key.sealed_secret = sealed;
                    }
                }
                key.updated_at = now;
                insert_audit(connection, &audit)?;
                Ok(key)
            })
            .await
    }

    async fn delete_api_key(
        &self,
        account_id: u64,
        key_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let key_id = key_id.to_owned();
        self.connections
            .write(move |connection| {
                let deleted = connection
                    .execute(
                        "DELETE FROM api_keys WHERE account_id = ?1 AND id = ?2",
                        params![as_i64(account_id), key_id],
                    )
                    .map_err(backend)?;
                if deleted == 0 {
                    return Err(StoreError::ApiKeyNotFound);
                }
                insert_audit(connection, &audit)?;
                Ok(())
            })
            .await
    }
}
