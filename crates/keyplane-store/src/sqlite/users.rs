//! Users on SQLite: their column list and decoder, and the user use cases. Writes run as jobs
//! of the single writer, so deleting a user and the checks before it are atomic.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{User, UserProfile};
use keyplane_core::store::DeleteUser;
use keyplane_core::store::{StoreError, UserStore};
use rusqlite::{params, Connection, Row};

use super::audit::insert_audit;
use super::policies::attachment_count;
use super::worker::backend;
use super::{from_nanos, inserted, select_all, select_one, SqliteStore};
use crate::codec::{as_i64, as_u64, nanos};

const USER_COLUMNS: &str = "account_id, uin, name, created_at, display_name, comments, email, \
     phone_country_code, phone_number, console_login";

fn decode_user(row: &Row<'_>) -> rusqlite::Result<User> {
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

pub(super) fn find_user(
    connection: &Connection,
    account_id: u64,
    uin: u64,
) -> Result<Option<User>, StoreError> {
    select_one(
        connection,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 AND uin = ?2"),
        params![as_i64(account_id), as_i64(uin)],
        decode_user,
    )
}

/// Every user of an account, oldest first.
pub(super) fn list_users(
    connection: &Connection,
    account_id: u64,
) -> Result<Vec<User>, StoreError> {
    select_all(
        connection,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 ORDER BY created_at, uin"),
        [as_i64(account_id)],
        decode_user,
    )
}

/// Deletes a user, its attachments and (per `options`) its access keys with their last uses;
/// X. Refusals are checked in the contract's order:
/// `UserNotFound`, `UserHasAccessKeys`, `UserHasPolicies`.
pub(super) fn delete_user(
    connection: &Connection,
    request: DeleteUser,
    audit: &AuditEvent,
) -> Result<Vec<String>, StoreError> {
    let (account_id, uin, options) = (request.account_id, request.uin, request.options);
    if find_user(connection, account_id, uin)?.is_none() {
        return Err(StoreError::UserNotFound);
    }
    let key_ids: Vec<String> = {
        let mut statement = connection
            .prepare_cached("SELECT id FROM access_keys WHERE owner_uin = ?1 ORDER BY id")
            .map_err(backend)?;
        let rows = statement
            .query_map([as_i64(uin)], |row| row.get(0))
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?
    };
    if !key_ids.is_empty() && !options.remove_access_keys {
        return Err(StoreError::UserHasAccessKeys);
    }
    if attachment_count(connection, uin)? > 0 && !options.detach_policies {
        return Err(StoreError::UserHasPolicies);
    }
    for key_id in &key_ids {
        connection
            .execute("DELETE FROM key_usage WHERE key_id = ?1", [key_id])
            .map_err(backend)?;
    }
    let statements = [
        "DELETE FROM access_keys WHERE owner_uin = ?1",
        "DELETE FROM policy_attachments WHERE user_uin = ?1",
        "DELETE FROM users WHERE uin = ?1",
    ];
    for statement in statements {
        connection
            .execute(statement, [as_i64(uin)])
            .map_err(backend)?;
    }
    insert_audit(connection, audit)?;
    Ok(key_ids)
}

#[async_trait]
impl UserStore for SqliteStore {
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
                    &format!(
                        "INSERT INTO users ({USER_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                    ),
                    params![
                        as_i64(user.account_id),
                        as_i64(user.uin),
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
                inserted(result, StoreError::IdentifierTaken)?;
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

    async fn user_by_name(&self, account_id: u64, name: &str) -> Result<Option<User>, StoreError> {
        let name = name.to_owned();
        // Users are also added by `keyplane user create` from another process: read fresh.
        self.connections
            .read_fresh(move |connection| {
                select_one(
                    connection,
                    &format!(
                        "SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 AND name = ?2"
                    ),
                    params![as_i64(account_id), name],
                    decode_user,
                )
            })
            .await
    }

    async fn list_users(&self, account_id: u64) -> Result<Vec<User>, StoreError> {
        // Users are also created by `keyplane user create` in another process.
        self.connections
            .read_fresh(move |connection| list_users(connection, account_id))
            .await
    }

    async fn delete_user(
        &self,
        request: DeleteUser,
        audit: AuditEvent,
    ) -> Result<Vec<String>, StoreError> {
        self.connections
            .write(move |connection| delete_user(connection, request, &audit))
            .await
    }
}
