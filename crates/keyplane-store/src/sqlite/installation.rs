//! The installation on SQLite: the account with its root user and keys, the master-key
//! check, readiness.

use async_trait::async_trait;
use keyplane_core::model::{Account, User};
use keyplane_core::store::{InstallationStore, NewAccessKey, NewAccount, StoreError};
use rusqlite::{params, OptionalExtension};

use super::access_keys::insert_access_key;
use super::worker::backend;
use super::{from_nanos, SqliteStore};
use crate::codec::{as_i64, as_u64, nanos};

#[async_trait]
impl InstallationStore for SqliteStore {
    async fn initialize(
        &self,
        account: NewAccount,
        root_keys: Vec<NewAccessKey>,
    ) -> Result<(Account, User), StoreError> {
        self.connections
            .write(move |connection| {
                let existing: i64 = connection
                    .query_row("SELECT COUNT(*) FROM accounts", [], |row| row.get(0))
                    .map_err(backend)?;
                if existing > 0 {
                    return Err(StoreError::AlreadyInitialized);
                }
                connection
                    .execute(
                        "INSERT INTO accounts (id, created_at) VALUES (?1, ?2)",
                        params![as_i64(account.account_id), nanos(account.created_at)],
                    )
                    .map_err(backend)?;
                connection
                    .execute(
                        "INSERT INTO users (uin, account_id, name, created_at) VALUES (?1, ?1, ?2, ?3)",
                        params![as_i64(account.account_id), account.root_name, nanos(account.created_at)],
                    )
                    .map_err(backend)?;
                for key in &root_keys {
                    insert_access_key(connection, key)?;
                }
                Ok((account.account(), account.root_user()))
            })
            .await
    }

    async fn claim_master_key_check(&self, check_value: &str) -> Result<String, StoreError> {
        let check_value = check_value.to_owned();
        self.connections
            .write(move |connection| {
                connection
                    .execute(
                        "INSERT INTO settings (name, value) VALUES ('master_key_check', ?1) \
                         ON CONFLICT (name) DO NOTHING",
                        [&check_value],
                    )
                    .map_err(backend)?;
                connection
                    .query_row(
                        "SELECT value FROM settings WHERE name = 'master_key_check'",
                        [],
                        |row| row.get(0),
                    )
                    .map_err(backend)
            })
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.connections
            .read_fresh(|connection| {
                connection
                    .query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(backend)
            })
            .await
    }

    async fn primary_account(&self) -> Result<Option<Account>, StoreError> {
        self.connections
            .read_fresh(|connection| {
                connection
                    .query_row(
                        "SELECT id, created_at FROM accounts ORDER BY created_at, id LIMIT 1",
                        [],
                        |row| {
                            Ok(Account {
                                id: as_u64(row.get(0)?),
                                created_at: from_nanos(row.get(1)?)?,
                            })
                        },
                    )
                    .optional()
                    .map_err(backend)
            })
            .await
    }
}
