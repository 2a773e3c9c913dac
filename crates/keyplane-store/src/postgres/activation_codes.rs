//! The PostgreSQL side of SMC activation codes and source-server registrations. Every change
//! to a code locks its row (`FOR UPDATE`) first, so redemptions of one code are serialised
//! across every node: a use is reserved, the registration recorded and the audit event
//! written in one transaction, which gives the use back if any step fails.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{ActivationCode, Redemption, SourceServer};
use keyplane_core::store::{ActivationCodeStore, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::audit::{commit_audited, insert_audit};
use super::{backend, commit, inserted, select_all, select_one, time_column, PostgresStore};
use crate::codec::{as_i64, as_u64, nanos};

const ACTIVATION_CODE_COLUMNS: &str = "id, account_id, name, description, code_hash, use_limit, \
     registered_count, time_to_live_days, disabled, created_at, expires_at";

const SOURCE_SERVER_COLUMNS: &str = "id, account_id, activation_code_id, name, hostname, \
     operating_system, fingerprint, source_address, registered_at";

fn unsigned(row: &PgRow, column: &str) -> Result<u32, StoreError> {
    let value: i32 = row.try_get(column).map_err(backend)?;
    u32::try_from(value).map_err(|_| StoreError::Backend(format!("{column} {value} out of range")))
}

fn decode_activation_code(row: &PgRow) -> Result<ActivationCode, StoreError> {
    Ok(ActivationCode {
        id: row.try_get("id").map_err(backend)?,
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        name: row.try_get("name").map_err(backend)?,
        description: row.try_get("description").map_err(backend)?,
        code_hash: row.try_get("code_hash").map_err(backend)?,
        count: unsigned(row, "use_limit")?,
        registered_count: unsigned(row, "registered_count")?,
        time_to_live_days: unsigned(row, "time_to_live_days")?,
        disabled: row.try_get("disabled").map_err(backend)?,
        created_at: time_column(row, "created_at")?,
        expires_at: time_column(row, "expires_at")?,
    })
}

fn decode_source_server(row: &PgRow) -> Result<SourceServer, StoreError> {
    Ok(SourceServer {
        id: row.try_get("id").map_err(backend)?,
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        activation_code_id: row.try_get("activation_code_id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        hostname: row.try_get("hostname").map_err(backend)?,
        operating_system: row.try_get("operating_system").map_err(backend)?,
        fingerprint: row.try_get("fingerprint").map_err(backend)?,
        source_address: row.try_get("source_address").map_err(backend)?,
        registered_at: time_column(row, "registered_at")?,
    })
}

fn signed(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

pub(super) async fn insert(
    mut transaction: Transaction<'static, Postgres>,
    code: &ActivationCode,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let result = sqlx::query(&format!(
        "INSERT INTO activation_codes ({ACTIVATION_CODE_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&code.id)
    .bind(as_i64(code.account_id))
    .bind(&code.name)
    .bind(&code.description)
    .bind(&code.code_hash)
    .bind(signed(code.count))
    .bind(signed(code.registered_count))
    .bind(signed(code.time_to_live_days))
    .bind(code.disabled)
    .bind(nanos(code.created_at))
    .bind(nanos(code.expires_at))
    .execute(&mut *transaction)
    .await;
    inserted(result, StoreError::IdentifierTaken)?;
    commit_audited(transaction, audit).await
}

pub(super) async fn find(
    pool: &PgPool,
    code_id: &str,
) -> Result<Option<ActivationCode>, StoreError> {
    select_one(
        pool,
        sqlx::query(&format!(
            "SELECT {ACTIVATION_CODE_COLUMNS} FROM activation_codes WHERE id = $1"
        ))
        .bind(code_id),
        decode_activation_code,
    )
    .await
}

/// Locks the code's row for the rest of the transaction.
async fn lock(
    transaction: &mut Transaction<'static, Postgres>,
    code_id: &str,
) -> Result<Option<ActivationCode>, StoreError> {
    select_one(
        &mut **transaction,
        sqlx::query(&format!(
            "SELECT {ACTIVATION_CODE_COLUMNS} FROM activation_codes WHERE id = $1 FOR UPDATE"
        ))
        .bind(code_id),
        decode_activation_code,
    )
    .await
}

pub(super) async fn list(
    pool: &PgPool,
    account_id: u64,
) -> Result<Vec<ActivationCode>, StoreError> {
    select_all(
        pool,
        sqlx::query(&format!(
            "SELECT {ACTIVATION_CODE_COLUMNS} FROM activation_codes WHERE account_id = $1 \
         ORDER BY created_at, id"
        ))
        .bind(as_i64(account_id)),
        decode_activation_code,
    )
    .await
}

pub(super) async fn disable(
    mut transaction: Transaction<'static, Postgres>,
    account_id: u64,
    code_id: &str,
    audit: &AuditEvent,
) -> Result<ActivationCode, StoreError> {
    let mut code = lock(&mut transaction, code_id)
        .await?
        .filter(|code| code.account_id == account_id)
        .ok_or(StoreError::ActivationCodeNotFound)?;
    sqlx::query("UPDATE activation_codes SET disabled = TRUE WHERE id = $1")
        .bind(code_id)
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    code.disabled = true;
    insert_audit(&mut transaction, audit).await?;
    commit(transaction).await?;
    Ok(code)
}

pub(super) async fn delete(
    mut transaction: Transaction<'static, Postgres>,
    account_id: u64,
    code_id: &str,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    lock(&mut transaction, code_id)
        .await?
        .filter(|code| code.account_id == account_id)
        .ok_or(StoreError::ActivationCodeNotFound)?;
    sqlx::query("DELETE FROM activation_codes WHERE id = $1")
        .bind(code_id)
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    commit_audited(transaction, audit).await
}

pub(super) async fn redeem(
    mut transaction: Transaction<'static, Postgres>,
    server: &SourceServer,
    audit: &AuditEvent,
) -> Result<Redemption, StoreError> {
    // The lock comes first: it orders this redemption after every other one of the same code,
    // so the fingerprint check below sees their registrations.
    let code = lock(&mut transaction, &server.activation_code_id).await?;
    let existing = sqlx::query(&format!(
        "SELECT {SOURCE_SERVER_COLUMNS} FROM source_servers \
         WHERE activation_code_id = $1 AND fingerprint = $2"
    ))
    .bind(&server.activation_code_id)
    .bind(&server.fingerprint)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(backend)?;
    if let Some(existing) = existing {
        return Ok(Redemption::AlreadyRegistered(decode_source_server(
            &existing,
        )?));
    }
    let code = code.ok_or(StoreError::ActivationCodeNotFound)?;
    if code.disabled {
        return Err(StoreError::ActivationCodeDisabled);
    }
    if server.registered_at >= code.expires_at {
        return Err(StoreError::ActivationCodeExpired);
    }
    if code.registered_count >= code.count {
        return Err(StoreError::ActivationCodeExhausted);
    }
    sqlx::query(
        "UPDATE activation_codes SET registered_count = registered_count + 1 WHERE id = $1",
    )
    .bind(&server.activation_code_id)
    .execute(&mut *transaction)
    .await
    .map_err(backend)?;
    let result = sqlx::query(&format!(
        "INSERT INTO source_servers ({SOURCE_SERVER_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&server.id)
    .bind(as_i64(server.account_id))
    .bind(&server.activation_code_id)
    .bind(&server.name)
    .bind(&server.hostname)
    .bind(&server.operating_system)
    .bind(&server.fingerprint)
    .bind(&server.source_address)
    .bind(nanos(server.registered_at))
    .execute(&mut *transaction)
    .await;
    // Dropping the transaction rolls back the reserved use.
    inserted(result, StoreError::IdentifierTaken)?;
    insert_audit(&mut transaction, audit).await?;
    commit(transaction).await?;
    Ok(Redemption::Registered(server.clone()))
}

pub(super) async fn source_servers(
    pool: &PgPool,
    account_id: u64,
    code_id: Option<&str>,
) -> Result<Vec<SourceServer>, StoreError> {
    select_all(
        pool,
        sqlx::query(&format!(
            "SELECT {SOURCE_SERVER_COLUMNS} FROM source_servers WHERE account_id = $1 \
         AND ($2::TEXT IS NULL OR activation_code_id = $2) ORDER BY registered_at, id"
        ))
        .bind(as_i64(account_id))
        .bind(code_id),
        decode_source_server,
    )
    .await
}

#[async_trait]
impl ActivationCodeStore for PostgresStore {
    async fn create_activation_code(
        &self,
        code: ActivationCode,
        audit: AuditEvent,
    ) -> Result<ActivationCode, StoreError> {
        insert(self.begin().await?, &code, &audit).await?;
        Ok(code)
    }

    async fn activation_code(&self, code_id: &str) -> Result<Option<ActivationCode>, StoreError> {
        find(&self.pool, code_id).await
    }

    async fn list_activation_codes(
        &self,
        account_id: u64,
    ) -> Result<Vec<ActivationCode>, StoreError> {
        list(&self.pool, account_id).await
    }

    async fn disable_activation_code(
        &self,
        account_id: u64,
        code_id: &str,
        audit: AuditEvent,
    ) -> Result<ActivationCode, StoreError> {
        disable(self.begin().await?, account_id, code_id, &audit).await
    }

    async fn delete_activation_code(
        &self,
        account_id: u64,
        code_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        delete(self.begin().await?, account_id, code_id, &audit).await
    }

    async fn redeem_activation_code(
        &self,
        server: SourceServer,
        audit: AuditEvent,
    ) -> Result<Redemption, StoreError> {
        redeem(self.begin().await?, &server, &audit).await
    }

    async fn list_source_servers(
        &self,
        account_id: u64,
        activation_code_id: Option<&str>,
    ) -> Result<Vec<SourceServer>, StoreError> {
        source_servers(&self.pool, account_id, activation_code_id).await
    }
}
