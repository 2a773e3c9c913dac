//! Users on PostgreSQL: their column list and decoder, and the user use cases. Creation is a
//! group-commit operation; deletion a plain transaction that locks the user, then its keys.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{User, UserProfile};
use keyplane_core::store::DeleteUser;
use keyplane_core::store::{StoreError, UserStore};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::audit::insert_audit;
use super::changes::{notify, user_payload};
use super::protocol::{Operation, OperationKind, Outcome};
use super::{backend, commit, select_all, select_one, time_column, PostgresStore};
use crate::codec::{as_i64, as_u64, nanos};

pub(super) const USER_COLUMNS: &str =
    "account_id, uin, name, created_at, display_name, comments, email, \
     phone_country_code, phone_number, console_login";

pub(super) fn decode_user(row: &PgRow) -> Result<User, StoreError> {
    Ok(User {
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        uin: as_u64(row.try_get("uin").map_err(backend)?),
        name: row.try_get("name").map_err(backend)?,
        profile: UserProfile {
            display_name: row.try_get("display_name").map_err(backend)?,
            comments: row.try_get("comments").map_err(backend)?,
            email: row.try_get("email").map_err(backend)?,
            phone_country_code: row.try_get("phone_country_code").map_err(backend)?,
            phone_number: row.try_get("phone_number").map_err(backend)?,
            console_login: row.try_get("console_login").map_err(backend)?,
        },
        created_at: time_column(row, "created_at")?,
    })
}

/// Locks the user's row (`FOR UPDATE`); false when it does not exist in the account.
pub(super) async fn lock_user(
    transaction: &mut Transaction<'_, Postgres>,
    account_id: u64,
    uin: u64,
) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 FROM users WHERE account_id = $1 AND uin = $2 FOR UPDATE")
        .bind(as_i64(account_id))
        .bind(as_i64(uin))
        .fetch_optional(&mut **transaction)
        .await
        .map_err(backend)?;
    Ok(row.is_some())
}

pub(super) async fn list_users(pool: &PgPool, account_id: u64) -> Result<Vec<User>, StoreError> {
    select_all(
        pool,
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 ORDER BY created_at, uin"
        ))
        .bind(as_i64(account_id)),
        decode_user,
    )
    .await
}

/// Deletes a user: `UserNotFound`, then `UserHasAccessKeys`, then `UserHasPolicies`. Locks the
/// user, then its keys (by id, as batches do), so no key can be created for it or changed
/// meanwhile. Returns the deleted keys' ids, ordered by id.
pub(super) async fn delete_user(
    mut transaction: Transaction<'static, Postgres>,
    request: DeleteUser,
    audit: &AuditEvent,
) -> Result<Vec<String>, StoreError> {
    let (account_id, uin, options) = (request.account_id, request.uin, request.options);
    if !lock_user(&mut transaction, account_id, uin).await? {
        return Err(StoreError::UserNotFound);
    }
    let key_ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM access_keys WHERE owner_uin = $1 ORDER BY id FOR UPDATE",
    )
    .bind(as_i64(uin))
    .fetch_all(&mut *transaction)
    .await
    .map_err(backend)?;
    if !key_ids.is_empty() && !options.remove_access_keys {
        return Err(StoreError::UserHasAccessKeys);
    }
    let attached: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM policy_attachments WHERE user_uin = $1")
            .bind(as_i64(uin))
            .fetch_one(&mut *transaction)
            .await
            .map_err(backend)?;
    if attached > 0 && !options.detach_policies {
        return Err(StoreError::UserHasPolicies);
    }
    sqlx::query("DELETE FROM key_usage WHERE key_id = ANY($1)")
        .bind(&key_ids)
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    for statement in [
        "DELETE FROM access_keys WHERE owner_uin = $1",
        "DELETE FROM policy_attachments WHERE user_uin = $1",
        "DELETE FROM users WHERE uin = $1",
    ] {
        sqlx::query(statement)
            .bind(as_i64(uin))
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
    }
    for key_id in &key_ids {
        notify(&mut transaction, key_id).await?;
    }
    notify(&mut transaction, &user_payload(account_id, uin)).await?;
    insert_audit(&mut transaction, audit).await?;
    commit(transaction).await?;
    Ok(key_ids)
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: User, audit: AuditEvent) -> Result<User, StoreError> {
        let operation = Operation {
            account_id: Some(as_i64(user.account_id)),
            uin: Some(as_i64(user.uin)),
            name: Some(user.name.clone()),
            at_time: Some(nanos(user.created_at)),
            display_name: Some(user.profile.display_name.clone()),
            comments: Some(user.profile.comments.clone()),
            email: Some(user.profile.email.clone()),
            phone_country_code: Some(user.profile.phone_country_code.clone()),
            phone_number: Some(user.profile.phone_number.clone()),
            console_login: Some(user.profile.console_login),
            ..Operation::of_kind(OperationKind::CreateUser)
        };
        match self.write_one(operation.audited(audit)).await?.1 {
            Outcome::Created => Ok(user),
            Outcome::UserNameTaken => Err(StoreError::UserNameTaken),
            Outcome::IdentifierTaken => Err(StoreError::IdentifierTaken),
            other => Err(other.unexpected()),
        }
    }

    async fn user(&self, account_id: u64, uin: u64) -> Result<Option<User>, StoreError> {
        select_one(
            &self.pool,
            sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 AND uin = $2"
            ))
            .bind(as_i64(account_id))
            .bind(as_i64(uin)),
            decode_user,
        )
        .await
    }

    async fn user_by_name(&self, account_id: u64, name: &str) -> Result<Option<User>, StoreError> {
        select_one(
            &self.pool,
            sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 AND name = $2"
            ))
            .bind(as_i64(account_id))
            .bind(name),
            decode_user,
        )
        .await
    }

    async fn list_users(&self, account_id: u64) -> Result<Vec<User>, StoreError> {
        list_users(&self.pool, account_id).await
    }

    async fn delete_user(
        &self,
        request: DeleteUser,
        audit: AuditEvent,
    ) -> Result<Vec<String>, StoreError> {
        delete_user(self.begin().await?, request, &audit).await
    }
}
