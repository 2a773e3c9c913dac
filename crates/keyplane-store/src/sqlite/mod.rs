//! The SQLite implementation of the Store trait: one database file in WAL mode with durable
//! commits (`synchronous = FULL`). Writes go through a single writer thread in group commits
//! (see `worker`), so quota checks and inserts are serialised and atomic; reads use a pool of
//! read-only connections.

mod activation;
mod audit;
mod eas;
mod iam;
mod migrations;
mod worker;

use std::path::Path;

use async_trait::async_trait;
use keyplane_core::audit::{AuditEvent, AuditRecord};
use keyplane_core::model::{
    AccessKey, Account, ActivationCode, ApiKey, ApiKeyType, CustomPolicy, EasInstance, EasService,
    InstanceToken, InstanceTokenPurpose, KeyFamily, KeyStatus, KeyUsage, PolicyAttachment,
    PolicyType, Redemption, SealedBlob, SourceServer, User, UserProfile,
};
use keyplane_core::store::{
    ApiKeyChange, DeleteUserOptions, NewAccessKey, NewAccount, PruneAudit, Store, StoreError,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use time::OffsetDateTime;

pub use migrations::SCHEMA_VERSION;
use worker::{backend, open_connection, Connections};

use crate::codec::{
    as_i64, as_u64, authorization_from_columns, nanos, tags_from_json, tags_to_json,
    time_from_nanos,
};

/// Keyplane's store on one SQLite file.
pub struct SqliteStore {
    connections: Connections,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = open_connection(path, false)?;
        migrations::migrate(&mut connection)?;
        Ok(Self {
            connections: Connections::start(path.to_path_buf(), connection),
        })
    }

    /// Finishes queued writes and stops the writer thread. Later writes fail.
    pub fn close(&self) {
        self.connections.close();
    }
}

fn from_nanos(value: i64) -> rusqlite::Result<OffsetDateTime> {
    time_from_nanos(value).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, error.into())
    })
}

fn conversion_error(message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, message.into())
}

const USER_COLUMNS: &str = "account_id, uin, name, created_at, display_name, comments, email, \
     phone_country_code, phone_number, console_login";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        account_id: as_u64(row.get(0)?),
        uin: as_u64(row.get(1)?),
        name: row.get(2)?,
        created_at: from_nanos(row.get(3)?)?,
        profile: UserProfile {
            display_name: row.get(4)?,
            comments: row.get(5)?,
            email: row.get(6)?,
            phone_country_code: row.get(7)?,
            phone_number: row.get(8)?,
            console_login: row.get(9)?,
        },
    })
}

const ACCESS_KEY_COLUMNS: &str = "id, account_id, owner_uin, family, status, description, \
     secret_key_version, secret_ciphertext, created_at, updated_at";

fn access_key_from_row(row: &Row<'_>) -> rusqlite::Result<AccessKey> {
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

const API_KEY_COLUMNS: &str = "id, account_id, key_type, secret_name, enabled, tags, \
     secret_key_version, secret_ciphertext, created_at, updated_at";

fn api_key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
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

fn insert_audit(connection: &Connection, event: &AuditEvent) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO audit_events (time, request_id, account_id, principal_uin, key_id, \
             product, action, target, outcome, source_address, user_agent, detail, decision, \
             decision_statement) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .and_then(|mut statement| {
            let authorization = event.authorization.as_ref();
            statement.execute(params![
                nanos(event.time),
                event.request_id,
                event.account_id.map(as_i64),
                event.principal_uin.map(as_i64),
                event.key_id,
                event.product,
                event.action,
                event.target,
                event.outcome,
                event.source_address,
                event.user_agent,
                event.detail,
                authorization.map(|authorization| &authorization.decision),
                authorization.and_then(|authorization| authorization.statement.as_ref()),
            ])
        })
        .map_err(backend)?;
    Ok(())
}

fn insert_access_key(connection: &Connection, key: &NewAccessKey) -> Result<(), StoreError> {
    let result = connection
        .prepare_cached(
            "INSERT INTO access_keys (id, account_id, owner_uin, family, status, description, \
             secret_key_version, secret_ciphertext, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, 'Active', ?5, ?6, ?7, ?8, ?8)",
        )
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
    match result {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => Err(StoreError::IdentifierTaken),
        Err(error) => Err(backend(error)),
    }
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

fn find_user(
    connection: &Connection,
    account_id: u64,
    uin: u64,
) -> Result<Option<User>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 AND uin = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row(params![as_i64(account_id), as_i64(uin)], user_from_row)
                .optional()
        })
        .map_err(backend)
}

fn find_access_key(connection: &Connection, key_id: &str) -> Result<Option<AccessKey>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE id = ?1"
        ))
        .and_then(|mut statement| {
            statement
                .query_row([key_id], access_key_from_row)
                .optional()
        })
        .map_err(backend)
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

fn find_api_key(
    connection: &Connection,
    account_id: u64,
    key_id: &str,
) -> Result<Option<ApiKey>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE account_id = ?1 AND id = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row(params![as_i64(account_id), key_id], api_key_from_row)
                .optional()
        })
        .map_err(backend)
}

#[async_trait]
impl Store for SqliteStore {
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

    async fn remember_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (key_id, nonce) = (key_id.to_owned(), nonce.to_owned());
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

    async fn create_user(&self, user: User, audit: AuditEvent) -> Result<User, StoreError> {
        self.connections
            .write(move |connection| {
                let name_taken: bool = connection
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM users WHERE account_id = ?1 AND name = ?2)",
                        params![as_i64(user.account_id), user.name],
                        |row| row.get(0),
                    )
                    .map_err(backend)?;
                if name_taken {
                    return Err(StoreError::UserNameTaken);
                }
                let profile = &user.profile;
                let result = connection.execute(
                    "INSERT INTO users (uin, account_id, name, created_at, display_name, comments, \
                     email, phone_country_code, phone_number, console_login) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        as_i64(user.uin),
                        as_i64(user.account_id),
                        user.name,
                        nanos(user.created_at),
                        profile.display_name,
                        profile.comments,
                        profile.email,
                        profile.phone_country_code,
                        profile.phone_number,
                        profile.console_login,
                    ],
                );
                match result {
                    Ok(_) => {}
                    Err(error) if is_unique_violation(&error) => {
                        return Err(StoreError::IdentifierTaken)
                    }
                    Err(error) => return Err(backend(error)),
                }
                insert_audit(connection, &audit)?;
                Ok(user)
            })
            .await
    }

    async fn user(&self, account_id: u64, uin: u64) -> Result<Option<User>, StoreError> {
        // Users are also created by `keyplane user create` in another process.
        self.connections
            .read_fresh(move |connection| find_user(connection, account_id, uin))
            .await
    }

    async fn list_users(&self, account_id: u64) -> Result<Vec<User>, StoreError> {
        // Users are also created by `keyplane user create` in another process.
        self.connections
            .read_fresh(move |connection| iam::list_users(connection, account_id))
            .await
    }

    async fn delete_user(
        &self,
        account_id: u64,
        uin: u64,
        options: DeleteUserOptions,
        audit: AuditEvent,
    ) -> Result<Vec<String>, StoreError> {
        self.connections
            .write(move |connection| iam::delete_user(connection, account_id, uin, options, &audit))
            .await
    }

    async fn create_custom_policy(
        &self,
        policy: CustomPolicy,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<CustomPolicy, StoreError> {
        self.connections
            .write(move |connection| {
                iam::create_custom_policy(connection, &policy, limit, &audit)?;
                Ok(policy)
            })
            .await
    }

    async fn custom_policy_by_name(
        &self,
        account_id: u64,
        name: &str,
    ) -> Result<Option<CustomPolicy>, StoreError> {
        let name = name.to_owned();
        self.connections
            .read(move |connection| iam::policy_by_name(connection, account_id, &name))
            .await
    }

    async fn custom_policy_by_id(
        &self,
        account_id: u64,
        id: u64,
    ) -> Result<Option<CustomPolicy>, StoreError> {
        self.connections
            .read(move |connection| iam::policy_by_id(connection, account_id, id))
            .await
    }

    async fn attach_policy(
        &self,
        account_id: u64,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
        attached_at: OffsetDateTime,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let attachment = iam::Attachment {
            account_id,
            uin,
            policy_type,
            policy_name: policy_name.to_owned(),
            attached_at: nanos(attached_at),
            limit,
        };
        self.connections
            .write(move |connection| iam::attach_policy(connection, &attachment, &audit))
            .await
    }

    async fn delete_custom_policy(
        &self,
        account_id: u64,
        name: &str,
        detach: bool,
        audit: AuditEvent,
    ) -> Result<Vec<u64>, StoreError> {
        let name = name.to_owned();
        self.connections
            .write(move |connection| {
                iam::delete_custom_policy(connection, account_id, &name, detach, &audit)
            })
            .await
    }

    async fn list_custom_policies(
        &self,
        account_id: u64,
    ) -> Result<Vec<(CustomPolicy, u64)>, StoreError> {
        self.connections
            .read(move |connection| iam::list_custom_policies(connection, account_id))
            .await
    }

    async fn policy_attachment_count(
        &self,
        account_id: u64,
        policy_type: PolicyType,
        name: &str,
    ) -> Result<u64, StoreError> {
        let name = name.to_owned();
        self.connections
            .read(move |connection| {
                iam::policy_attachment_count(connection, account_id, policy_type, &name)
            })
            .await
    }

    async fn detach_policy(
        &self,
        account_id: u64,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let policy_name = policy_name.to_owned();
        self.connections
            .write(move |connection| {
                iam::detach_policy(
                    connection,
                    account_id,
                    uin,
                    policy_type,
                    &policy_name,
                    &audit,
                )
            })
            .await
    }

    async fn user_policies(
        &self,
        account_id: u64,
        uin: u64,
    ) -> Result<Vec<PolicyAttachment>, StoreError> {
        self.connections
            .read(move |connection| iam::user_policies(connection, account_id, uin))
            .await
    }

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
                let mut statement = connection
                    .prepare_cached(&format!(
                        "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys \
                         WHERE account_id = ?1 AND owner_uin = ?2 AND family = ?3 \
                         ORDER BY created_at, id"
                    ))
                    .map_err(backend)?;
                let rows = statement
                    .query_map(
                        params![as_i64(account_id), as_i64(owner_uin), family.as_str()],
                        access_key_from_row,
                    )
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await
    }

    async fn set_access_key_status(
        &self,
        account_id: u64,
        owner_uin: u64,
        key_id: &str,
        status: KeyStatus,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> Result<AccessKey, StoreError> {
        let key_id = key_id.to_owned();
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
        account_id: u64,
        owner_uin: u64,
        key_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let key_id = key_id.to_owned();
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
                    .prepare_cached(
                        "INSERT INTO key_usage (key_id, used_at, product, action, source_address) \
                         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM access_keys WHERE id = ?1) \
                         ON CONFLICT (key_id) DO UPDATE SET used_at = excluded.used_at, \
                         product = excluded.product, action = excluded.action, \
                         source_address = excluded.source_address \
                         WHERE excluded.used_at > key_usage.used_at",
                    )
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
                    .prepare_cached(
                        "SELECT key_id, used_at, product, action, source_address \
                         FROM key_usage WHERE key_id = ?1",
                    )
                    .map_err(backend)?;
                let mut found = Vec::new();
                for key_id in &key_ids {
                    let usage = statement
                        .query_row([key_id], |row| {
                            Ok(KeyUsage {
                                key_id: row.get(0)?,
                                used_at: from_nanos(row.get(1)?)?,
                                product: row.get(2)?,
                                action: row.get(3)?,
                                source_address: row.get(4)?,
                            })
                        })
                        .optional()
                        .map_err(backend)?;
                    found.extend(usage);
                }
                Ok(found)
            })
            .await
    }

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
                        "INSERT INTO api_keys (id, account_id, key_type, secret_name, enabled, tags, \
                         secret_key_version, secret_ciphertext, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
                let mut statement = connection
                    .prepare_cached(&format!(
                        "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE account_id = ?1 \
                         ORDER BY created_at, id"
                    ))
                    .map_err(backend)?;
                let rows = statement
                    .query_map([as_i64(account_id)], api_key_from_row)
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await
    }

    async fn update_api_key(
        &self,
        account_id: u64,
        key_id: &str,
        change: ApiKeyChange,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let key_id = key_id.to_owned();
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

    async fn append_audit_events(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        self.connections
            .write(move |connection| {
                for event in &events {
                    insert_audit(connection, event)?;
                }
                Ok(())
            })
            .await
    }

    async fn prune_audit_events(
        &self,
        before: OffsetDateTime,
        audit_event: PruneAudit,
    ) -> Result<u64, StoreError> {
        self.connections
            .write(move |connection| audit::prune(connection, before, audit_event))
            .await
    }

    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.connections
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(
                        "SELECT sequence, time, request_id, account_id, principal_uin, key_id, \
                         product, action, target, outcome, source_address, user_agent, detail, \
                         decision, decision_statement \
                         FROM audit_events WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
                    )
                    .map_err(backend)?;
                let rows = statement
                    .query_map(params![after, limit], |row| {
                        Ok(AuditRecord {
                            sequence: row.get(0)?,
                            event: AuditEvent {
                                time: from_nanos(row.get(1)?)?,
                                request_id: row.get(2)?,
                                account_id: row.get::<_, Option<i64>>(3)?.map(as_u64),
                                principal_uin: row.get::<_, Option<i64>>(4)?.map(as_u64),
                                key_id: row.get(5)?,
                                product: row.get(6)?,
                                action: row.get(7)?,
                                target: row.get(8)?,
                                outcome: row.get(9)?,
                                source_address: row.get(10)?,
                                user_agent: row.get(11)?,
                                detail: row.get(12)?,
                                authorization: authorization_from_columns(
                                    row.get(13)?,
                                    row.get(14)?,
                                ),
                            },
                        })
                    })
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await
    }

    async fn user_by_name(&self, account_id: u64, name: &str) -> Result<Option<User>, StoreError> {
        let name = name.to_owned();
        // Users are also added by `keyplane user create` from another process: read fresh.
        self.connections
            .read_fresh(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 AND name = ?2"
                    ))
                    .and_then(|mut statement| {
                        statement
                            .query_row(params![as_i64(account_id), name], user_from_row)
                            .optional()
                    })
                    .map_err(backend)
            })
            .await
    }

    async fn create_activation_code(
        &self,
        code: ActivationCode,
        audit: AuditEvent,
    ) -> Result<ActivationCode, StoreError> {
        self.connections
            .write(move |connection| {
                activation::insert(connection, &code, &audit)?;
                Ok(code)
            })
            .await
    }

    async fn activation_code(&self, code_id: &str) -> Result<Option<ActivationCode>, StoreError> {
        let code_id = code_id.to_owned();
        self.connections
            .read(move |connection| activation::find(connection, &code_id))
            .await
    }

    async fn list_activation_codes(
        &self,
        account_id: u64,
    ) -> Result<Vec<ActivationCode>, StoreError> {
        self.connections
            .read(move |connection| activation::list(connection, account_id))
            .await
    }

    async fn disable_activation_code(
        &self,
        account_id: u64,
        code_id: &str,
        audit: AuditEvent,
    ) -> Result<ActivationCode, StoreError> {
        let code_id = code_id.to_owned();
        self.connections
            .write(move |connection| activation::disable(connection, account_id, &code_id, &audit))
            .await
    }

    async fn delete_activation_code(
        &self,
        account_id: u64,
        code_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let code_id = code_id.to_owned();
        self.connections
            .write(move |connection| activation::delete(connection, account_id, &code_id, &audit))
            .await
    }

    async fn redeem_activation_code(
        &self,
        server: SourceServer,
        audit: AuditEvent,
    ) -> Result<Redemption, StoreError> {
        self.connections
            .write(move |connection| activation::redeem(connection, &server, &audit))
            .await
    }

    async fn list_source_servers(
        &self,
        account_id: u64,
        activation_code_id: Option<&str>,
    ) -> Result<Vec<SourceServer>, StoreError> {
        let code_id = activation_code_id.map(str::to_owned);
        self.connections
            .read(move |connection| {
                activation::source_servers(connection, account_id, code_id.as_deref())
            })
            .await
    }

    async fn create_eas_service(
        &self,
        service: EasService,
        audit: AuditEvent,
    ) -> Result<EasService, StoreError> {
        self.connections
            .write(move |connection| {
                eas::insert_service(connection, &service, &audit)?;
                Ok(service)
            })
            .await
    }

    async fn eas_service(
        &self,
        account_id: u64,
        cluster: &str,
        name: &str,
    ) -> Result<Option<EasService>, StoreError> {
        let (cluster, name) = (cluster.to_owned(), name.to_owned());
        // The registry is changed by `keyplane eas` from other processes: read fresh.
        self.connections
            .read_fresh(move |connection| {
                eas::find_service(connection, account_id, &cluster, &name)
            })
            .await
    }

    async fn list_eas_services(&self, account_id: u64) -> Result<Vec<EasService>, StoreError> {
        self.connections
            .read_fresh(move |connection| eas::list_services(connection, account_id))
            .await
    }

    async fn delete_eas_service(
        &self,
        account_id: u64,
        cluster: &str,
        name: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let (cluster, name) = (cluster.to_owned(), name.to_owned());
        self.connections
            .write(move |connection| {
                eas::delete_service(connection, account_id, &cluster, &name, &audit)
            })
            .await
    }

    async fn add_eas_instance(
        &self,
        instance: EasInstance,
        audit: AuditEvent,
    ) -> Result<EasInstance, StoreError> {
        self.connections
            .write(move |connection| {
                eas::insert_instance(connection, &instance, &audit)?;
                Ok(instance)
            })
            .await
    }

    async fn eas_instance(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
        name: &str,
    ) -> Result<Option<EasInstance>, StoreError> {
        let (cluster, service, name) = (cluster.to_owned(), service.to_owned(), name.to_owned());
        self.connections
            .read_fresh(move |connection| {
                eas::find_instance(connection, account_id, &cluster, &service, &name)
            })
            .await
    }

    async fn list_eas_instances(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
    ) -> Result<Vec<EasInstance>, StoreError> {
        let (cluster, service) = (cluster.to_owned(), service.to_owned());
        self.connections
            .read_fresh(move |connection| {
                eas::list_instances(connection, account_id, &cluster, &service)
            })
            .await
    }

    async fn remove_eas_instance(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
        name: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let (cluster, service, name) = (cluster.to_owned(), service.to_owned(), name.to_owned());
        self.connections
            .write(move |connection| {
                eas::remove_instance(connection, account_id, &cluster, &service, &name, &audit)
            })
            .await
    }

    async fn create_instance_tokens(
        &self,
        tokens: Vec<InstanceToken>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        self.connections
            .write(move |connection| eas::insert_tokens(connection, &tokens, &audit))
            .await
    }

    async fn instance_token(&self, token_hash: &[u8]) -> Result<Option<InstanceToken>, StoreError> {
        let token_hash = token_hash.to_vec();
        self.connections
            .read(move |connection| eas::find_token(connection, &token_hash))
            .await
    }

    async fn burn_instance_token(
        &self,
        token_hash: &[u8],
        purpose: InstanceTokenPurpose,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> Result<InstanceToken, StoreError> {
        let token_hash = token_hash.to_vec();
        self.connections
            .write(move |connection| eas::burn_token(connection, &token_hash, purpose, now, &audit))
            .await
    }

    async fn forget_expired_instance_tokens(
        &self,
        expired_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.connections
            .write(move |connection| eas::forget_expired_tokens(connection, expired_before))
            .await
    }
}
