//! The SQLite side of SMC activation codes and source-server registrations: the statements
//! behind the `Store` methods of that name. Redemption runs on the single writer, so reading
//! the code, checking it and consuming a use happen in one serialised transaction.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{ActivationCode, Redemption, SourceServer};
use keyplane_core::store::{ActivationCodeStore, StoreError};
use rusqlite::{params, Connection, Row};

use super::audit::insert_audit;
use super::worker::backend;
use super::{from_nanos, inserted, select_all, select_one, SqliteStore};
use crate::codec::{as_i64, as_u64, nanos};

const ACTIVATION_CODE_COLUMNS: &str = "id, account_id, name, description, code_hash, use_limit, \
     registered_count, time_to_live_days, disabled, created_at, expires_at";

const SOURCE_SERVER_COLUMNS: &str = "id, account_id, activation_code_id, name, hostname, \
     operating_system, fingerprint, source_address, registered_at";

fn decode_activation_code(row: &Row<'_>) -> rusqlite::Result<ActivationCode> {
    Ok(ActivationCode {
        id: row.get(0)?,
        account_id: as_u64(row.get(1)?),
        name: row.get(2)?,
        description: row.get(3)?,
        code_hash: row.get(4)?,
        count: row.get(5)?,
        registered_count: row.get(6)?,
        time_to_live_days: row.get(7)?,
        disabled: row.get(8)?,
        created_at: from_nanos(row.get(9)?)?,
        expires_at: from_nanos(row.get(10)?)?,
    })
}

fn decode_source_server(row: &Row<'_>) -> rusqlite::Result<SourceServer> {
    Ok(SourceServer {
        id: row.get(0)?,
        account_id: as_u64(row.get(1)?),
        activation_code_id: row.get(2)?,
        name: row.get(3)?,
        hostname: row.get(4)?,
        operating_system: row.get(5)?,
        fingerprint: row.get(6)?,
        source_address: row.get(7)?,
        registered_at: from_nanos(row.get(8)?)?,
    })
}

/// The code `code_id`, in any account.
pub(super) fn find(
    connection: &Connection,
    code_id: &str,
) -> Result<Option<ActivationCode>, StoreError> {
    select_one(
        connection,
        &format!("SELECT {ACTIVATION_CODE_COLUMNS} FROM activation_codes WHERE id = ?1"),
        [code_id],
        decode_activation_code,
    )
}

fn find_in_account(
    connection: &Connection,
    account_id: u64,
    code_id: &str,
) -> Result<ActivationCode, StoreError> {
    find(connection, code_id)?
        .filter(|code| code.account_id == account_id)
        .ok_or(StoreError::ActivationCodeNotFound)
}

pub(super) fn insert(
    connection: &Connection,
    code: &ActivationCode,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let result = connection.execute(
        &format!(
            "INSERT INTO activation_codes ({ACTIVATION_CODE_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        params![
            code.id,
            as_i64(code.account_id),
            code.name,
            code.description,
            code.code_hash,
            code.count,
            code.registered_count,
            code.time_to_live_days,
            code.disabled,
            nanos(code.created_at),
            nanos(code.expires_at),
        ],
    );
    inserted(result, StoreError::IdentifierTaken)?;
    insert_audit(connection, audit)
}

pub(super) fn list(
    connection: &Connection,
    account_id: u64,
) -> Result<Vec<ActivationCode>, StoreError> {
    select_all(
        connection,
        &format!(
            "SELECT {ACTIVATION_CODE_COLUMNS} FROM activation_codes WHERE account_id = ?1 \
             ORDER BY created_at, id"
        ),
        [as_i64(account_id)],
        decode_activation_code,
    )
}

pub(super) fn disable(
    connection: &Connection,
    account_id: u64,
    code_id: &str,
    audit: &AuditEvent,
) -> Result<ActivationCode, StoreError> {
    let mut code = find_in_account(connection, account_id, code_id)?;
    connection
        .execute(
            "UPDATE activation_codes SET disabled = 1 WHERE id = ?1",
            [code_id],
        )
        .map_err(backend)?;
    code.disabled = true;
    insert_audit(connection, audit)?;
    Ok(code)
}

pub(super) fn delete(
    connection: &Connection,
    account_id: u64,
    code_id: &str,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    find_in_account(connection, account_id, code_id)?;
    connection
        .execute("DELETE FROM activation_codes WHERE id = ?1", [code_id])
        .map_err(backend)?;
    insert_audit(connection, audit)
}

fn registration(
    connection: &Connection,
    code_id: &str,
    fingerprint: &str,
) -> Result<Option<SourceServer>, StoreError> {
    select_one(
        connection,
        &format!(
            "SELECT {SOURCE_SERVER_COLUMNS} FROM source_servers \
             WHERE activation_code_id = ?1 AND fingerprint = ?2"
        ),
        [code_id, fingerprint],
        decode_source_server,
    )
}

/// Redeems one use. It runs as one writer job, in its own savepoint: when recording the
/// registration fails after the use was reserved, the savepoint is rolled back and the use
/// given back.
pub(super) fn redeem(
    connection: &Connection,
    server: &SourceServer,
    audit: &AuditEvent,
) -> Result<Redemption, StoreError> {
    if let Some(existing) =
        registration(connection, &server.activation_code_id, &server.fingerprint)?
    {
        return Ok(Redemption::AlreadyRegistered(existing));
    }
    let code =
        find(connection, &server.activation_code_id)?.ok_or(StoreError::ActivationCodeNotFound)?;
    if code.disabled {
        return Err(StoreError::ActivationCodeDisabled);
    }
    if server.registered_at >= code.expires_at {
        return Err(StoreError::ActivationCodeExpired);
    }
    reserve_and_register(connection, server, audit)?;
    Ok(Redemption::Registered(server.clone()))
}

fn reserve_and_register(
    connection: &Connection,
    server: &SourceServer,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let reserved = connection
        .execute(
            "UPDATE activation_codes SET registered_count = registered_count + 1 \
             WHERE id = ?1 AND registered_count < use_limit",
            [&server.activation_code_id],
        )
        .map_err(backend)?;
    if reserved == 0 {
        return Err(StoreError::ActivationCodeExhausted);
    }
    let result = connection.execute(
        &format!(
            "INSERT INTO source_servers ({SOURCE_SERVER_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        params![
            server.id,
            as_i64(server.account_id),
            server.activation_code_id,
            server.name,
            server.hostname,
            server.operating_system,
            server.fingerprint,
            server.source_address,
            nanos(server.registered_at),
        ],
    );
    inserted(result, StoreError::IdentifierTaken)?;
    insert_audit(connection, audit)
}

pub(super) fn source_servers(
    connection: &Connection,
    account_id: u64,
    code_id: Option<&str>,
) -> Result<Vec<SourceServer>, StoreError> {
    select_all(
        connection,
        &format!(
            "SELECT {SOURCE_SERVER_COLUMNS} FROM source_servers WHERE account_id = ?1 \
             AND (?2 IS NULL OR activation_code_id = ?2) ORDER BY registered_at, id"
        ),
        params![as_i64(account_id), code_id],
        decode_source_server,
    )
}

#[async_trait]
impl ActivationCodeStore for SqliteStore {
    async fn create_activation_code(
        &self,
        code: ActivationCode,
        audit: AuditEvent,
    ) -> Result<ActivationCode, StoreError> {
        self.connections
            .write(move |connection| {
                insert(connection, &code, &audit)?;
                Ok(code)
            })
            .await
    }

    async fn activation_code(&self, code_id: &str) -> Result<Option<ActivationCode>, StoreError> {
        let code_id = code_id.to_owned();
        self.connections
            .read(move |connection| find(connection, &code_id))
            .await
    }

    async fn list_activation_codes(
        &self,
        account_id: u64,
    ) -> Result<Vec<ActivationCode>, StoreError> {
        self.connections
            .read(move |connection| list(connection, account_id))
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
            .write(move |connection| disable(connection, account_id, &code_id, &audit))
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
            .write(move |connection| delete(connection, account_id, &code_id, &audit))
            .await
    }

    async fn redeem_activation_code(
        &self,
        server: SourceServer,
        audit: AuditEvent,
    ) -> Result<Redemption, StoreError> {
        self.connections
            .write(move |connection| redeem(connection, &server, &audit))
            .await
    }

    async fn list_source_servers(
        &self,
        account_id: u64,
        activation_code_id: Option<&str>,
    ) -> Result<Vec<SourceServer>, StoreError> {
        let code_id = activation_code_id.map(str::to_owned);
        self.connections
            .read(move |connection| source_servers(connection, account_id, code_id.as_deref()))
            .await
    }
}
