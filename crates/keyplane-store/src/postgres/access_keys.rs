//! Access keys and their last uses on PostgreSQL. Writes are group-commit operations (the
//! quota is decided inside the batch function under the owner's row lock); listings, the hot
//! read, are coalesced by their own batcher into one query.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{AccessKey, KeyFamily, KeyStatus, KeyUsage, SealedBlob};
use keyplane_core::store::{AccessKeyStore, NewAccessKey, StoreError};
use keyplane_core::store::{OwnedAccessKey, SetAccessKeyStatus};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use std::collections::HashMap;
use std::sync::Arc;

use super::batcher::BatchLimits;
use super::kept::{still_usable_after, KeptConnections};
use super::protocol::{Operation, OperationKind, Outcome};
use super::{backend, select_all, select_one, time_column, violated_constraint, PostgresStore};
use crate::codec::{as_i64, as_u64, nanos};

pub(super) const ACCESS_KEY_COLUMNS: &str =
    "id, account_id, owner_uin, family, status, description, \
     secret_key_version, secret_ciphertext, created_at, updated_at";

pub(super) fn decode_sealed(row: &PgRow) -> Result<SealedBlob, StoreError> {
    let version: i64 = row.try_get("secret_key_version").map_err(backend)?;
    Ok(SealedBlob {
        key_version: u32::try_from(version)
            .map_err(|_| StoreError::Backend(format!("key version {version} out of range")))?,
        ciphertext: row.try_get("secret_ciphertext").map_err(backend)?,
    })
}

pub(super) fn decode_access_key(row: &PgRow) -> Result<AccessKey, StoreError> {
    let family: String = row.try_get("family").map_err(backend)?;
    let status: String = row.try_get("status").map_err(backend)?;
    Ok(AccessKey {
        id: row.try_get("id").map_err(backend)?,
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        owner_uin: as_u64(row.try_get("owner_uin").map_err(backend)?),
        family: KeyFamily::parse(&family)
            .ok_or_else(|| StoreError::Backend(format!("unknown key family {family}")))?,
        status: KeyStatus::parse(&status)
            .ok_or_else(|| StoreError::Backend(format!("unknown key status {status}")))?,
        description: row.try_get("description").map_err(backend)?,
        sealed_secret: decode_sealed(row)?,
        created_at: time_column(row, "created_at")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

/// The columns of a key's last use.
const KEY_USAGE_COLUMNS: &str = "key_id, used_at, product, action, source_address";

fn decode_key_usage(row: &PgRow) -> Result<KeyUsage, StoreError> {
    Ok(KeyUsage {
        key_id: row.try_get("key_id").map_err(backend)?,
        used_at: time_column(row, "used_at")?,
        product: row.try_get("product").map_err(backend)?,
        action: row.try_get("action").map_err(backend)?,
        source_address: row.try_get("source_address").map_err(backend)?,
    })
}

pub(super) async fn insert_access_key(
    transaction: &mut Transaction<'_, Postgres>,
    key: &NewAccessKey,
) -> Result<(), StoreError> {
    let result = sqlx::query(&format!(
        "INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) \
         VALUES ($1, $2, $3, $4, 'Active', $5, $6, $7, $8, $8)"
    ))
    .bind(&key.id)
    .bind(as_i64(key.account_id))
    .bind(as_i64(key.owner_uin))
    .bind(key.family.as_str())
    .bind(&key.description)
    .bind(i64::from(key.sealed_secret.key_version))
    .bind(&key.sealed_secret.ciphertext)
    .bind(nanos(key.created_at))
    .execute(&mut **transaction)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(error) if violated_constraint(&error).is_some() => Err(StoreError::IdentifierTaken),
        Err(error) => Err(backend(error)),
    }
}

/// Batch limits for key listings: up to two queries in flight (more make smaller batches and
/// cost more round trips per listing), 256 listings per query.
pub(super) const DEFAULT_LISTING_LIMITS: BatchLimits = BatchLimits {
    in_flight: 2,
    max_weight: 256,
};

/// One `list_access_keys` request: account, owner, family.
pub(super) type KeyListing = (i64, i64, KeyFamily);

/// Answers several key listings with one query. Each distinct (account, owner, family) is
/// looked up once and every request gets the keys of its own, oldest first; the query is sent
/// after every request of the batch was made, so each sees every write acknowledged before it.
pub(super) async fn list_access_keys_together(
    connections: Arc<KeptConnections>,
    requests: Vec<KeyListing>,
) -> Vec<Result<Vec<AccessKey>, StoreError>> {
    let mut distinct: Vec<KeyListing> = Vec::new();
    let mut index_of: HashMap<KeyListing, usize> = HashMap::new();
    let positions: Vec<usize> = requests
        .iter()
        .map(|request| {
            *index_of.entry(*request).or_insert_with(|| {
                distinct.push(*request);
                distinct.len() - 1
            })
        })
        .collect();
    let answer = async {
        let account_ids: Vec<i64> = distinct.iter().map(|listing| listing.0).collect();
        let owner_uins: Vec<i64> = distinct.iter().map(|listing| listing.1).collect();
        let families: Vec<&str> = distinct.iter().map(|listing| listing.2.as_str()).collect();
        let mut connection = connections.take().await.map_err(backend)?;
        // The listing's columns have names of their own, so the key's resolve to `k` alone.
        let rows = sqlx::query(&format!(
            "SELECT listing.number, {ACCESS_KEY_COLUMNS} \
             FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[]) WITH ORDINALITY \
             AS listing (listed_account_id, listed_owner_uin, listed_family, number) \
             JOIN access_keys AS k ON k.account_id = listing.listed_account_id \
             AND k.owner_uin = listing.listed_owner_uin AND k.family = listing.listed_family \
             ORDER BY listing.number, k.created_at, k.id"
        ))
        .bind(account_ids)
        .bind(owner_uins)
        .bind(families)
        .fetch_all(&mut *connection)
        .await;
        let rows = match rows {
            Ok(rows) => {
                connections.keep(connection);
                rows
            }
            Err(error) => {
                if still_usable_after(&error) {
                    connections.keep(connection);
                }
                return Err(backend(error));
            }
        };
        let mut listings: Vec<Vec<AccessKey>> = vec![Vec::new(); distinct.len()];
        for row in &rows {
            let number: i64 = row.try_get("number").map_err(backend)?;
            let listing = usize::try_from(number - 1)
                .ok()
                .and_then(|index| listings.get_mut(index))
                .ok_or_else(|| StoreError::Backend(format!("no listing number {number}")))?;
            listing.push(decode_access_key(row)?);
        }
        Ok::<_, StoreError>(listings)
    };
    match answer.await {
        Ok(listings) => positions
            .into_iter()
            .map(|position| Ok(listings[position].clone()))
            .collect(),
        Err(error) => positions.iter().map(|_| Err(error.clone())).collect(),
    }
}

/// The group-commit operation `kind` on an access key its owner's account names.
fn key_operation(key: OwnedAccessKey<'_>, kind: OperationKind) -> Operation {
    Operation {
        id: Some(key.key_id.to_owned()),
        account_id: Some(as_i64(key.account_id)),
        uin: Some(as_i64(key.owner_uin)),
        ..Operation::of_kind(kind)
    }
}

#[async_trait]
impl AccessKeyStore for PostgresStore {
    async fn create_access_key_within_quota(
        &self,
        key: NewAccessKey,
        quota: u32,
        audit: AuditEvent,
    ) -> Result<AccessKey, StoreError> {
        let operation = Operation {
            id: Some(key.id.clone()),
            account_id: Some(as_i64(key.account_id)),
            uin: Some(as_i64(key.owner_uin)),
            family: Some(key.family.as_str().to_owned()),
            description: key.description.clone(),
            secret_key_version: Some(i64::from(key.sealed_secret.key_version)),
            secret_ciphertext: Some(key.sealed_secret.ciphertext.clone()),
            at_time: Some(nanos(key.created_at)),
            quota: Some(i64::from(quota)),
            ..Operation::of_kind(OperationKind::CreateAccessKey)
        };
        match self.write_one(operation.audited(audit)).await?.1 {
            Outcome::Created => Ok(key.into_active_key()),
            Outcome::UserNotFound => Err(StoreError::UserNotFound),
            Outcome::QuotaExceeded => Err(StoreError::AccessKeyQuotaExceeded { limit: quota }),
            Outcome::IdentifierTaken => Err(StoreError::IdentifierTaken),
            other => Err(other.unexpected()),
        }
    }

    async fn access_key(&self, key_id: &str) -> Result<Option<AccessKey>, StoreError> {
        select_one(
            &self.pool,
            sqlx::query(&format!(
                "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE id = $1"
            ))
            .bind(key_id),
            decode_access_key,
        )
        .await
    }

    async fn list_access_keys(
        &self,
        account_id: u64,
        owner_uin: u64,
        family: KeyFamily,
    ) -> Result<Vec<AccessKey>, StoreError> {
        self.listings
            .submit((as_i64(account_id), as_i64(owner_uin), family))
            .await
    }

    async fn set_access_key_status(
        &self,
        request: SetAccessKeyStatus<'_>,
        audit: AuditEvent,
    ) -> Result<AccessKey, StoreError> {
        let operation = Operation {
            status: Some(request.status.as_str().to_owned()),
            at_time: Some(nanos(request.now)),
            ..key_operation(request.key, OperationKind::SetAccessKeyStatus)
        };
        let (row, outcome) = self.write_one(operation.audited(audit)).await?;
        match outcome {
            Outcome::Updated => decode_access_key(&row),
            Outcome::NotFound => Err(StoreError::AccessKeyNotFound),
            Outcome::OwnerMismatch => Err(StoreError::OwnerMismatch),
            other => Err(other.unexpected()),
        }
    }

    async fn delete_access_key(
        &self,
        key: OwnedAccessKey<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let operation = key_operation(key, OperationKind::DeleteAccessKey);
        match self.write_one(operation.audited(audit)).await?.1 {
            Outcome::Deleted => Ok(()),
            Outcome::NotFound => Err(StoreError::AccessKeyNotFound),
            Outcome::OwnerMismatch => Err(StoreError::OwnerMismatch),
            other => Err(other.unexpected()),
        }
    }

    async fn record_key_usage(&self, usage: Vec<KeyUsage>) -> Result<(), StoreError> {
        if usage.is_empty() {
            return Ok(());
        }
        let job = usage
            .into_iter()
            .map(|record| Operation {
                id: Some(record.key_id),
                at_time: Some(nanos(record.used_at)),
                product: Some(record.product),
                action: Some(record.action),
                source_address: Some(record.source_address),
                ..Operation::of_kind(OperationKind::RecordKeyUsage)
            })
            .collect();
        for row in self.write(job).await? {
            match Outcome::of(&row)? {
                Outcome::Recorded => {}
                other => return Err(other.unexpected()),
            }
        }
        Ok(())
    }

    async fn key_usage(&self, key_ids: &[String]) -> Result<Vec<KeyUsage>, StoreError> {
        select_all(
            &self.pool,
            sqlx::query(&format!(
                "SELECT {KEY_USAGE_COLUMNS} FROM key_usage WHERE key_id = ANY($1)"
            ))
            .bind(key_ids),
            decode_key_usage,
        )
        .await
    }
}
