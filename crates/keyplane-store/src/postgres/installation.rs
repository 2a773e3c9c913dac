//! The installation on PostgreSQL: the account with its root user and keys (serialised
//! across nodes by an advisory lock), the master-key check, readiness.

use async_trait::async_trait;
use keyplane_core::model::{Account, User};
use keyplane_core::store::{InstallationStore, NewAccessKey, NewAccount, StoreError};
use sqlx::Row;

use super::access_keys::insert_access_key;
use super::{backend, commit, time_column, PostgresStore};
use crate::codec::{as_i64, as_u64, nanos};

/// An advisory-lock key that serialises `initialize` across nodes ("keyplane" in ASCII).
const INITIALIZE_LOCK: i64 = 0x6b65_7970_6c61_6e65;

#[async_trait]
impl InstallationStore for PostgresStore {
    async fn initialize(
        &self,
        account: NewAccount,
        root_keys: Vec<NewAccessKey>,
    ) -> Result<(Account, User), StoreError> {
        let mut transaction = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(INITIALIZE_LOCK)
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&mut *transaction)
            .await
            .map_err(backend)?;
        if existing > 0 {
            return Err(StoreError::AlreadyInitialized);
        }
        sqlx::query("INSERT INTO accounts (id, created_at) VALUES ($1, $2)")
            .bind(as_i64(account.account_id))
            .bind(nanos(account.created_at))
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO users (uin, account_id, name, created_at) VALUES ($1, $1, $2, $3)",
        )
        .bind(as_i64(account.account_id))
        .bind(&account.root_name)
        .bind(nanos(account.created_at))
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
        for key in &root_keys {
            insert_access_key(&mut transaction, key).await?;
        }
        commit(transaction).await?;
        Ok((account.account(), account.root_user()))
    }

    async fn claim_master_key_check(&self, check_value: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ('master_key_check', $1) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(check_value)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        sqlx::query_scalar("SELECT value FROM settings WHERE name = 'master_key_check'")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn primary_account(&self) -> Result<Option<Account>, StoreError> {
        let row =
            sqlx::query("SELECT id, created_at FROM accounts ORDER BY created_at, id LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        row.map(|row| {
            Ok(Account {
                id: as_u64(row.try_get("id").map_err(backend)?),
                created_at: time_column(&row, "created_at")?,
            })
        })
        .transpose()
    }
}
