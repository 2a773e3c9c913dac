//! Access keys and their last uses on SQLite. The quota is checked and the key inserted in
//! one job of the single writer, so two creations can never both take the last slot.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{AccessKey, KeyFamily, KeyStatus, KeyUsage, SealedBlob};
use keyplane_core::store::{AccessKeyStore, NewAccessKey, StoreError};
use keyplane_core::store::{OwnedAccessKey, SetAccessKeyStatus};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::audit::insert_audit;
use super::users::find_user;
use super::worker::backend;
use super::{conversion_error, from_nanos, inserted, select_all, select_one, SqliteStore};
use crate::codec::{as_i64, as_u64, nanos};

const ACCESS_KEY_COLUMNS: &str = "id, account_id, owner_uin, family, status, description, \
     secret_key_version, secret_ciphertext, created_at, updated_at";

fn decode_access_key(row: &Row<'_>) -> rusqlite::Result<AccessKey> {
    let family: String = row.get(3)?;
    let status: String = row.get(4)?;
    Ok(AccessKey {
        id: row.get(0)?,
        account_id: as_u64(row.get(1)?),
        owner_uin: as_u64(row.get(2)?),
        family: KeyFamily::parse(&family)
            .ok_or_else(|| conversion_error(format!("unknown key family {family}")))?,
        status: KeyStatus::parse(&status)
            .ok_or_else(|| conversion_error(format!("unknown key status {status}")))?,
        description: row.get(5)?,
        sealed_secret: SealedBlob {
            key_version: row.get(6)?,
            ciphertext: row.get(7)?,
        },
        created_at: from_nanos(row.get(8)?)?,
        updated_at: from_nanos(row.get(9)?)?,
    })
}

/// The columns of a key's last use, in the order `decode_key_usage` reads them.
const KEY_USAGE_COLUMNS: &str = "key_id, used_at, product, action, source_address";

fn decode_key_usage(row: &Row<'_>) -> rusqlite::Result<KeyUsage> {
    Ok(KeyUsage {
        key_id: row.get(0)?,
        used_at: from_nanos(row.get(1)?)?,
        product: row.get(2)?,
        action: row.get(3)?,
        source_address: row.get(4)?,
    })
}

pub(super) fn insert_access_key(
    connection: &Connection,
    key: &NewAccessKey,
) -> Result<(), StoreError> {
    let result = connection
        .prepare_cached(&format!(
            "INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, 'Active', ?5, ?6, ?7, ?8, ?8)"
        ))
        .and_then(|mut statement| {
            statement.execute(params![
                key.id,
                as_i64(key.account_id),
                as_i64(key.owner_uin),
                key.family.as_str(),
                key.description,
                key.sealed_secret.key_version,
                key.sealed_secret.ciphertext,
                nanos(key.created_at),
            ])
        });
    inserted(result, StoreError::IdentifierTaken)
}

fn find_access_key(connection: &Connection, key_id: &str) -> Result<Option<AccessKey>, StoreError> {
    select_one(
        connection,
        &format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE id = ?1"),
        [key_id],
        decode_access_key,
    )
}

/// The key `key_id` if it is in `account_id` and owned by `owner_uin`, else the error that says
/// which of those failed.
fn owned_access_key(
    connection: &Connection,
    account_id: u64,
    owner_uin: u64,
    key_id: &str,
) -> Result<AccessKey, StoreError> {
    match find_access_key(connection, key_id)? {
        Some(key) if key.account_id != account_id => Err(StoreError::AccessKeyNotFound),
        Some(key) if key.owner_uin != owner_uin => Err(StoreError::OwnerMismatch),
        Some(key) => Ok(key),
        None => Err(StoreError::AccessKeyNotFound),
    }
}

#[async_trait]
impl AccessKeyStore for SqliteStore {
    async fn create_access_key_within_quota(
        &self,
        key: NewAccessKey,
        quota: u32,
        audit: AuditEvent,
    ) -> Result<AccessKey, StoreError> {
        self.connections
            .write(move |connection| {
                if find_user(connection, key.account_id, key.owner_uin)?.is_none() {
                    return Err(StoreError::UserNotFound);
                }
                let held: i64 = connection
                    .prepare_cached(
                        "SELECT COUNT(*) FROM access_keys WHERE owner_uin = ?1 AND family = ?2",
                    )
                    .and_then(|mut statement| {
                        statement
                            .query_row(params![as_i64(key.owner_uin), key.family.as_str()], |row| {
                                row.get(0)
                            })
                    })
                    .map_err(backend)?;
                if held >= i64::from(quota) {
                    return Err(StoreError::AccessKeyQuotaExceeded { limit: quota });
                }
                insert_access_key(connection, &key)?;
                insert_audit(connection, &audit)?;
                Ok(key.into_active_key())
            })
            .await
    }

    async fn access_key(&self, key_id: &str) -> Result<Option<AccessKey>, StoreError> {
        let key_id = key_id.to_owned();
        self.connections
            .read(move |connection| find_access_key(connection, &key_id))
            .await
    }

    async fn list_access_keys(
        &self,
        account_id: u64,
        owner_uin: u64,
        family: KeyFamily,
    ) -> Result<Vec<AccessKey>, StoreError> {
        self.connections
            .read(move |connection| {
                select_all(
                    connection,
                    &format!(
                        "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys \
                         WHERE account_id = ?1 AND owner_uin = ?2 AND family = ?3 \
                         ORDER BY created_at, id"
                    ),
                    params![as_i64(account_id), as_i64(owner_uin), family.as_str()],
                    decode_access_key,
                )
            })
            .await
    }

    async fn set_access_key_status(
        &self,
        request: SetAccessKeyStatus<'_>,
        audit: AuditEvent,
    ) -> Result<AccessKey, StoreError> {
        let (account_id, owner_uin) = (request.key.account_id, request.key.owner_uin);
        let (key_id, status, now) = (request.key.key_id.to_owned(), request.status, request.now);
        self.connections
            .write(move |connection| {
                let mut key = owned_access_key(connection, account_id, owner_uin, &key_id)?;
                connection
                    .execute(
                        "UPDATE access_keys SET status = ?1, updated_at = ?2 WHERE id = ?3",
                        params![status.as_str(), nanos(now), key_id],
                    )
                    .map_err(backend)?;
                insert_audit(connection, &audit)?;
                key.status = status;
                key.updated_at = now;
                Ok(key)
            })
            .await
    }

    async fn delete_access_key(
        &self,
        key: OwnedAccessKey<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let (account_id, owner_uin, key_id) =
            (key.account_id, key.owner_uin, key.key_id.to_owned());
        self.connections
            .write(move |connection| {
                owned_access_key(connection, account_id, owner_uin, &key_id)?;
                connection
                    .execute("DELETE FROM access_keys WHERE id = ?1", [&key_id])
                    .map_err(backend)?;
                connection
                    .execute("DELETE FROM key_usage WHERE key_id = ?1", [&key_id])
                    .map_err(backend)?;
                insert_audit(connection, &audit)?;
                Ok(())
            })
            .await
    }

    async fn record_key_usage(&self, usage: Vec<KeyUsage>) -> Result<(), StoreError> {
        self.connections
            .write(move |connection| {
                let mut statement = connection
                    .prepare_cached(&format!(
                        "INSERT INTO key_usage ({KEY_USAGE_COLUMNS}) \
                         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM access_keys WHERE id = ?1) \
                         ON CONFLICT (key_id) DO UPDATE SET used_at = excluded.used_at, \
                         product = excluded.product, action = excluded.action, \
                         source_address = excluded.source_address \
                         WHERE excluded.used_at > key_usage.used_at"
                    ))
                    .map_err(backend)?;
                for record in &usage {
                    statement
                        .execute(params![
                            record.key_id,
                            nanos(record.used_at),
                            record.product,
                            record.action,
                            record.source_address,
                        ])
                        .map_err(backend)?;
                }
                Ok(())
            })
            .await
    }

    async fn key_usage(&self, key_ids: &[String]) -> Result<Vec<KeyUsage>, StoreError> {
        let key_ids = key_ids.to_vec();
        self.connections
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(&format!(
                        "SELECT {KEY_USAGE_COLUMNS} FROM key_usage WHERE key_id = ?1"
                    ))
                    .map_err(backend)?;
                let mut found = Vec::new();
                for key_id in &key_ids {
                    let usage = statement
                        .query_row([key_id], decode_key_usage)
                        .optional()
                        .map_err(backend)?;
                    found.extend(usage);
                }
                Ok(found)
            })
            .await
    }
}
