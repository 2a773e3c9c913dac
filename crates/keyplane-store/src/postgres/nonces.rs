//! Request nonces on PostgreSQL: remembering one is a group-commit operation, so a replay is
//! refused across every node on the database.

use async_trait::async_trait;
use keyplane_core::store::UsedNonce;
use keyplane_core::store::{NonceStore, StoreError};
use time::OffsetDateTime;

use super::protocol::{Operation, OperationKind, Outcome};
use super::{backend, PostgresStore};
use crate::codec::nanos;

#[async_trait]
impl NonceStore for PostgresStore {
    async fn remember_nonce(
        &self,
        used: UsedNonce<'_>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let operation = Operation {
            id: Some(used.key_id.to_owned()),
            name: Some(used.nonce.to_owned()),
            at_time: Some(nanos(now)),
            until_time: Some(nanos(used.expires_at)),
            ..Operation::of_kind(OperationKind::RememberNonce)
        };
        match self.write_one(operation).await?.1 {
            Outcome::Accepted => Ok(true),
            Outcome::Replayed => Ok(false),
            other => Err(other.unexpected()),
        }
    }

    async fn forget_expired_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM nonces WHERE expires_at <= $1")
            .bind(nanos(now))
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected())
    }
}
