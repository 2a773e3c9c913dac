//! The SQLite side of the PAI-EAS registry (services, instances and their workers) and of
//! instance tokens: the statements behind the `Store` methods of those names. Burning a token
//! runs on the single writer, so reading its state and marking it used happen in one
//! serialised transaction.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{EasInstance, EasService, InstanceToken, InstanceTokenPurpose};
use keyplane_core::store::{EasInstanceName, EasServiceName, TokenRedemption};
use keyplane_core::store::{EasStore, StoreError};
use keyplane_core::template::CommandTemplate;
use rusqlite::{params, Connection, Row};
use time::OffsetDateTime;

use super::audit::insert_audit;
use super::worker::backend;
use super::{conversion_error, from_nanos, inserted, select_all, select_one, SqliteStore};
use crate::codec::{as_i64, as_u64, nanos, strings_from_json, strings_to_json};

const SERVICE_COLUMNS: &str = "account_id, cluster, name, exec_template, log_template, created_at";

const INSTANCE_COLUMNS: &str = "account_id, cluster, service, name, workers, created_at";

const TOKEN_COLUMNS: &str = "token_hash, grant_id, purpose, account_id, principal_uin, key_id, \
     cluster, service, instance, worker, created_at, expires_at, used_at";

fn template_from_json(text: &str) -> rusqlite::Result<CommandTemplate> {
    let words = strings_from_json(text).map_err(conversion_error)?;
    CommandTemplate::from_words(words)
        .map_err(|error| conversion_error(format!("stored command template: {error}")))
}

fn decode_service(row: &Row<'_>) -> rusqlite::Result<EasService> {
    let exec_template: String = row.get(3)?;
    let log_template: String = row.get(4)?;
    Ok(EasService {
        account_id: as_u64(row.get(0)?),
        cluster: row.get(1)?,
        name: row.get(2)?,
        exec_template: template_from_json(&exec_template)?,
        log_template: template_from_json(&log_template)?,
        created_at: from_nanos(row.get(5)?)?,
    })
}

fn decode_instance(row: &Row<'_>) -> rusqlite::Result<EasInstance> {
    let workers: String = row.get(4)?;
    Ok(EasInstance {
        account_id: as_u64(row.get(0)?),
        cluster: row.get(1)?,
        service: row.get(2)?,
        name: row.get(3)?,
        workers: strings_from_json(&workers).map_err(conversion_error)?,
        created_at: from_nanos(row.get(5)?)?,
    })
}

fn decode_token(row: &Row<'_>) -> rusqlite::Result<InstanceToken> {
    let purpose: String = row.get(2)?;
    let used_at: Option<i64> = row.get(12)?;
    Ok(InstanceToken {
        token_hash: row.get(0)?,
        grant_id: row.get(1)?,
        purpose: InstanceTokenPurpose::parse(&purpose)
            .ok_or_else(|| conversion_error(format!("unknown token purpose {purpose}")))?,
        account_id: as_u64(row.get(3)?),
        principal_uin: as_u64(row.get(4)?),
        key_id: row.get(5)?,
        cluster: row.get(6)?,
        service: row.get(7)?,
        instance: row.get(8)?,
        worker: row.get(9)?,
        created_at: from_nanos(row.get(10)?)?,
        expires_at: from_nanos(row.get(11)?)?,
        used_at: used_at.map(from_nanos).transpose()?,
    })
}

pub(super) fn insert_service(
    connection: &Connection,
    service: &EasService,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let result = connection.execute(
        &format!("INSERT INTO eas_services ({SERVICE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            as_i64(service.account_id),
            service.cluster,
            service.name,
            strings_to_json(&service.exec_template.words()),
            strings_to_json(&service.log_template.words()),
            nanos(service.created_at),
        ],
    );
    inserted(result, StoreError::EasServiceAlreadyExists)?;
    insert_audit(connection, audit)
}

pub(super) fn find_service(
    connection: &Connection,
    account_id: u64,
    cluster: &str,
    name: &str,
) -> Result<Option<EasService>, StoreError> {
    select_one(
        connection,
        &format!(
            "SELECT {SERVICE_COLUMNS} FROM eas_services \
             WHERE account_id = ?1 AND cluster = ?2 AND name = ?3"
        ),
        params![as_i64(account_id), cluster, name],
        decode_service,
    )
}

pub(super) fn list_services(
    connection: &Connection,
    account_id: u64,
) -> Result<Vec<EasService>, StoreError> {
    select_all(
        connection,
        &format!(
            "SELECT {SERVICE_COLUMNS} FROM eas_services WHERE account_id = ?1 \
             ORDER BY cluster, name"
        ),
        [as_i64(account_id)],
        decode_service,
    )
}

pub(super) fn delete_service(
    connection: &Connection,
    service: EasServiceName<'_>,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let (account_id, cluster, name) = (service.account_id, service.cluster, service.name);
    // Its instances go with it (ON DELETE CASCADE).
    let deleted = connection
        .execute(
            "DELETE FROM eas_services WHERE account_id = ?1 AND cluster = ?2 AND name = ?3",
            params![as_i64(account_id), cluster, name],
        )
        .map_err(backend)?;
    if deleted == 0 {
        return Err(StoreError::EasServiceNotFound);
    }
    insert_audit(connection, audit)
}

pub(super) fn insert_instance(
    connection: &Connection,
    instance: &EasInstance,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    if find_service(
        connection,
        instance.account_id,
        &instance.cluster,
        &instance.service,
    )?
    .is_none()
    {
        return Err(StoreError::EasServiceNotFound);
    }
    let result = connection.execute(
        &format!("INSERT INTO eas_instances ({INSTANCE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            as_i64(instance.account_id),
            instance.cluster,
            instance.service,
            instance.name,
            strings_to_json(&instance.workers),
            nanos(instance.created_at),
        ],
    );
    inserted(result, StoreError::EasInstanceAlreadyExists)?;
    insert_audit(connection, audit)
}

pub(super) fn find_instance(
    connection: &Connection,
    instance: EasInstanceName<'_>,
) -> Result<Option<EasInstance>, StoreError> {
    let (account_id, cluster) = (instance.account_id, instance.cluster);
    let (service, name) = (instance.service, instance.name);
    select_one(
        connection,
        &format!(
            "SELECT {INSTANCE_COLUMNS} FROM eas_instances \
             WHERE account_id = ?1 AND cluster = ?2 AND service = ?3 AND name = ?4"
        ),
        params![as_i64(account_id), cluster, service, name],
        decode_instance,
    )
}

pub(super) fn list_instances(
    connection: &Connection,
    account_id: u64,
    cluster: &str,
    service: &str,
) -> Result<Vec<EasInstance>, StoreError> {
    select_all(
        connection,
        &format!(
            "SELECT {INSTANCE_COLUMNS} FROM eas_instances \
             WHERE account_id = ?1 AND cluster = ?2 AND service = ?3 ORDER BY name"
        ),
        params![as_i64(account_id), cluster, service],
        decode_instance,
    )
}

pub(super) fn remove_instance(
    connection: &Connection,
    instance: EasInstanceName<'_>,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let (account_id, cluster) = (instance.account_id, instance.cluster);
    let (service, name) = (instance.service, instance.name);
    let deleted = connection
        .execute(
            "DELETE FROM eas_instances \
             WHERE account_id = ?1 AND cluster = ?2 AND service = ?3 AND name = ?4",
            params![as_i64(account_id), cluster, service, name],
        )
        .map_err(backend)?;
    if deleted == 0 {
        return Err(StoreError::EasInstanceNotFound);
    }
    insert_audit(connection, audit)
}

/// Inserts every token, then the audit event. It runs as one writer job in its own savepoint:
/// a collision on any token undoes the others.
pub(super) fn insert_tokens(
    connection: &Connection,
    tokens: &[InstanceToken],
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let mut statement = connection
        .prepare_cached(&format!(
            "INSERT INTO eas_instance_tokens ({TOKEN_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))
        .map_err(backend)?;
    for token in tokens {
        let result = statement.execute(params![
            token.token_hash,
            token.grant_id,
            token.purpose.as_str(),
            as_i64(token.account_id),
            as_i64(token.principal_uin),
            token.key_id,
            token.cluster,
            token.service,
            token.instance,
            token.worker,
            nanos(token.created_at),
            nanos(token.expires_at),
            token.used_at.map(nanos),
        ]);
        inserted(result, StoreError::IdentifierTaken)?;
    }
    insert_audit(connection, audit)
}

pub(super) fn find_token(
    connection: &Connection,
    token_hash: &[u8],
) -> Result<Option<InstanceToken>, StoreError> {
    select_one(
        connection,
        &format!("SELECT {TOKEN_COLUMNS} FROM eas_instance_tokens WHERE token_hash = ?1"),
        [token_hash],
        decode_token,
    )
}

/// Burns a token: checked and marked used in one writer job, so exactly one of several
/// concurrent redemptions succeeds.
pub(super) fn burn_token(
    connection: &Connection,
    redemption: TokenRedemption<'_>,
    audit: &AuditEvent,
) -> Result<InstanceToken, StoreError> {
    let (token_hash, purpose, now) = (redemption.token_hash, redemption.purpose, redemption.now);
    let mut token = find_token(connection, token_hash)?
        .filter(|token| token.purpose == purpose)
        .ok_or(StoreError::InstanceTokenNotFound)?;
    if token.used_at.is_some() {
        return Err(StoreError::InstanceTokenUsed);
    }
    if token.is_expired(now) {
        return Err(StoreError::InstanceTokenExpired);
    }
    connection
        .execute(
            "UPDATE eas_instance_tokens SET used_at = ?2 WHERE token_hash = ?1",
            params![token_hash, nanos(now)],
        )
        .map_err(backend)?;
    insert_audit(connection, audit)?;
    token.used_at = Some(now);
    Ok(token)
}

pub(super) fn forget_expired_tokens(
    connection: &Connection,
    expired_before: OffsetDateTime,
) -> Result<u64, StoreError> {
    connection
        .execute(
            "DELETE FROM eas_instance_tokens WHERE expires_at <= ?1",
            [nanos(expired_before)],
        )
        .map(|removed| removed as u64)
        .map_err(backend)
}

#[async_trait]
impl EasStore for SqliteStore {
    async fn create_eas_service(
        &self,
        service: EasService,
        audit: AuditEvent,
    ) -> Result<EasService, StoreError> {
        self.connections
            .write(move |connection| {
                insert_service(connection, &service, &audit)?;
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
            .read_fresh(move |connection| find_service(connection, account_id, &cluster, &name))
            .await
    }

    async fn list_eas_services(&self, account_id: u64) -> Result<Vec<EasService>, StoreError> {
        self.connections
            .read_fresh(move |connection| list_services(connection, account_id))
            .await
    }

    async fn delete_eas_service(
        &self,
        service: EasServiceName<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let (account_id, cluster, name) = (service.account_id, service.cluster, service.name);
        let (cluster, name) = (cluster.to_owned(), name.to_owned());
        self.connections
            .write(move |connection| {
                let service = EasServiceName::new(account_id, &cluster, &name);
                delete_service(connection, service, &audit)
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
                insert_instance(connection, &instance, &audit)?;
                Ok(instance)
            })
            .await
    }

    async fn eas_instance(
        &self,
        instance: EasInstanceName<'_>,
    ) -> Result<Option<EasInstance>, StoreError> {
        let (account_id, cluster) = (instance.account_id, instance.cluster.to_owned());
        let (service, name) = (instance.service.to_owned(), instance.name.to_owned());
        self.connections
            .read_fresh(move |connection| {
                let instance = EasInstanceName::new(account_id, &cluster, &service, &name);
                find_instance(connection, instance)
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
                list_instances(connection, account_id, &cluster, &service)
            })
            .await
    }

    async fn remove_eas_instance(
        &self,
        instance: EasInstanceName<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let (account_id, cluster) = (instance.account_id, instance.cluster.to_owned());
        let (service, name) = (instance.service.to_owned(), instance.name.to_owned());
        self.connections
            .write(move |connection| {
                let instance = EasInstanceName::new(account_id, &cluster, &service, &name);
                remove_instance(connection, instance, &audit)
            })
            .await
    }

    async fn create_instance_tokens(
        &self,
        tokens: Vec<InstanceToken>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        self.connections
            .write(move |connection| insert_tokens(connection, &tokens, &audit))
            .await
    }

    async fn instance_token(&self, token_hash: &[u8]) -> Result<Option<InstanceToken>, StoreError> {
        let token_hash = token_hash.to_vec();
        self.connections
            .read(move |connection| find_token(connection, &token_hash))
            .await
    }

    async fn burn_instance_token(
        &self,
        redemption: TokenRedemption<'_>,
        audit: AuditEvent,
    ) -> Result<InstanceToken, StoreError> {
        let (token_hash, purpose, now) = (
            redemption.token_hash.to_vec(),
            redemption.purpose,
            redemption.now,
        );
        self.connections
            .write(move |connection| {
                let redemption = TokenRedemption::new(&token_hash, purpose, now);
                burn_token(connection, redemption, &audit)
            })
            .await
    }

    async fn forget_expired_instance_tokens(
        &self,
        expired_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.connections
            .write(move |connection| forget_expired_tokens(connection, expired_before))
            .await
    }
}
