//! Request nonces on SQLite: remembered by the single writer, so a replay is refused even
//! between two requests in one group commit.

use async_trait::async_trait;
use keyplane_core::store::UsedNonce;
use keyplane_core::store::{NonceStore, StoreError};
use rusqlite::params;
use time::OffsetDateTime;

use super::worker::backend;
use super::SqliteStore;
use crate::codec::nanos;

#[async_trait]
impl NonceStore for SqliteStore {
    async fn remember_nonce(
        &self,
        used: UsedNonce<'_>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (key_id, nonce) = (used.key_id.to_owned(), used.nonce.to_owned());
        let expires_at = used.expires_at;
        self.connections
            .write(move |connection| {
                let changed = connection
                    .prepare_cached(
                        "INSERT INTO nonces (key_id, nonce, expires_at) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (key_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
                         WHERE nonces.expires_at <= ?4",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![key_id, nonce, nanos(expires_at), nanos(now)])
                    })
                    .map_err(backend)?;
                Ok(changed == 1)
            })
            .await
    }

    async fn forget_expired_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.connections
            .write(move |connection| {
                connection
                    .execute("DELETE FROM nonces WHERE expires_at <= ?1", [nanos(now)])
                    .map(|removed| removed as u64)
                    .map_err(backend)
            })
            .await
    }
}
