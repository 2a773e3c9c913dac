//! The PostgreSQL side of the PAI-EAS registry (services, instances and their workers) and of
//! instance tokens. Burning a token locks its row (`FOR UPDATE`) first, so of several nodes
//! redeeming one token at once exactly one marks it used; the audit event is written in the
//! same transaction.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{EasInstance, EasService, InstanceToken, InstanceTokenPurpose};
use keyplane_core::store::{EasInstanceName, EasServiceName, TokenRedemption};
use keyplane_core::store::{EasStore, StoreError};
use keyplane_core::template::CommandTemplate;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use time::OffsetDateTime;

use super::audit::{commit_audited, delete_one_audited, insert_audit};
use super::{
    backend, commit, decode, inserted, select_all, select_one, time_column, violated_constraint,
    PostgresStore,
};
use crate::codec::{as_i64, as_u64, nanos, strings_from_json, strings_to_json, time_from_nanos};

const SERVICE_COLUMNS: &str = "account_id, cluster, name, exec_template, log_template, created_at";

const INSTANCE_COLUMNS: &str = "account_id, cluster, service, name, workers, created_at";

const TOKEN_COLUMNS: &str = "token_hash, grant_id, purpose, account_id, principal_uin, key_id, \
     cluster, service, instance, worker, created_at, expires_at, used_at";

/// Whether a statement failed on a foreign key (the row it refers to does not exist).
fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.code().as_deref() == Some("23503"))
}

fn template_column(row: &PgRow, column: &str) -> Result<CommandTemplate, StoreError> {
    let text: String = row.try_get(column).map_err(backend)?;
    let words = decode(strings_from_json(&text))?;
    CommandTemplate::from_words(words)
        .map_err(|error| StoreError::Backend(format!("stored command template: {error}")))
}

fn decode_service(row: &PgRow) -> Result<EasService, StoreError> {
    Ok(EasService {
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        cluster: row.try_get("cluster").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        exec_template: template_column(row, "exec_template")?,
        log_template: template_column(row, "log_template")?,
        created_at: time_column(row, "created_at")?,
    })
}

fn decode_instance(row: &PgRow) -> Result<EasInstance, StoreError> {
    let workers: String = row.try_get("workers").map_err(backend)?;
    Ok(EasInstance {
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        cluster: row.try_get("cluster").map_err(backend)?,
        service: row.try_get("service").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        workers: decode(strings_from_json(&workers))?,
        created_at: time_column(row, "created_at")?,
    })
}

fn decode_token(row: &PgRow) -> Result<InstanceToken, StoreError> {
    let purpose: String = row.try_get("purpose").map_err(backend)?;
    let used_at: Option<i64> = row.try_get("used_at").map_err(backend)?;
    Ok(InstanceToken {
        token_hash: row.try_get("token_hash").map_err(backend)?,
        grant_id: row.try_get("grant_id").map_err(backend)?,
        purpose: InstanceTokenPurpose::parse(&purpose)
            .ok_or_else(|| StoreError::Backend(format!("unknown token purpose {purpose}")))?,
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        principal_uin: as_u64(row.try_get("principal_uin").map_err(backend)?),
        key_id: row.try_get("key_id").map_err(backend)?,
        cluster: row.try_get("cluster").map_err(backend)?,
        service: row.try_get("service").map_err(backend)?,
        instance: row.try_get("instance").map_err(backend)?,
        worker: row.try_get("worker").map_err(backend)?,
        created_at: time_column(row, "created_at")?,
        expires_at: time_column(row, "expires_at")?,
        used_at: used_at
            .map(|value| decode(time_from_nanos(value)))
            .transpose()?,
    })
}

pub(super) async fn insert_service(
    mut transaction: Transaction<'static, Postgres>,
    service: &EasService,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let result = sqlx::query(&format!(
        "INSERT INTO eas_services ({SERVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(as_i64(service.account_id))
    .bind(&service.cluster)
    .bind(&service.name)
    .bind(strings_to_json(&service.exec_template.words()))
    .bind(strings_to_json(&service.log_template.words()))
    .bind(nanos(service.created_at))
    .execute(&mut *transaction)
    .await;
    inserted(result, StoreError::EasServiceAlreadyExists)?;
    commit_audited(transaction, audit).await
}

pub(super) async fn find_service(
    pool: &PgPool,
    account_id: u64,
    cluster: &str,
    name: &str,
) -> Result<Option<EasService>, StoreError> {
    select_one(
        pool,
        sqlx::query(&format!(
            "SELECT {SERVICE_COLUMNS} FROM eas_services \
         WHERE account_id = $1 AND cluster = $2 AND name = $3"
        ))
        .bind(as_i64(account_id))
        .bind(cluster)
        .bind(name),
        decode_service,
    )
    .await
}

pub(super) async fn list_services(
    pool: &PgPool,
    account_id: u64,
) -> Result<Vec<EasService>, StoreError> {
    select_all(
        pool,
        sqlx::query(&format!(
            "SELECT {SERVICE_COLUMNS} FROM eas_services WHERE account_id = $1 \
         ORDER BY cluster COLLATE \"C\", name COLLATE \"C\""
        ))
        .bind(as_i64(account_id)),
        decode_service,
    )
    .await
}

pub(super) async fn delete_service(
    transaction: Transaction<'static, Postgres>,
    service: EasServiceName<'_>,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let (account_id, cluster, name) = (service.account_id, service.cluster, service.name);
    // Its instances go with it (ON DELETE CASCADE).
    let statement = sqlx::query(
        "DELETE FROM eas_services WHERE account_id = $1 AND cluster = $2 AND name = $3",
    )
    .bind(as_i64(account_id))
    .bind(cluster)
    .bind(name);
    delete_one_audited(
        transaction,
        statement,
        StoreError::EasServiceNotFound,
        audit,
    )
    .await
}

pub(super) async fn insert_instance(
    mut transaction: Transaction<'static, Postgres>,
    instance: &EasInstance,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let result = sqlx::query(&format!(
        "INSERT INTO eas_instances ({INSTANCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(as_i64(instance.account_id))
    .bind(&instance.cluster)
    .bind(&instance.service)
    .bind(&instance.name)
    .bind(strings_to_json(&instance.workers))
    .bind(nanos(instance.created_at))
    .execute(&mut *transaction)
    .await;
    match result {
        Ok(_) => {}
        // The service it belongs to is absent (or was deleted meanwhile).
        Err(error) if is_foreign_key_violation(&error) => {
            return Err(StoreError::EasServiceNotFound)
        }
        Err(error) if violated_constraint(&error).is_some() => {
            return Err(StoreError::EasInstanceAlreadyExists)
        }
        Err(error) => return Err(backend(error)),
    }
    commit_audited(transaction, audit).await
}

pub(super) async fn find_instance(
    pool: &PgPool,
    instance: EasInstanceName<'_>,
) -> Result<Option<EasInstance>, StoreError> {
    let (account_id, cluster) = (instance.account_id, instance.cluster);
    let (service, name) = (instance.service, instance.name);
    select_one(
        pool,
        sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM eas_instances \
         WHERE account_id = $1 AND cluster = $2 AND service = $3 AND name = $4"
        ))
        .bind(as_i64(account_id))
        .bind(cluster)
        .bind(service)
        .bind(name),
        decode_instance,
    )
    .await
}

pub(super) async fn list_instances(
    pool: &PgPool,
    account_id: u64,
    cluster: &str,
    service: &str,
) -> Result<Vec<EasInstance>, StoreError> {
    select_all(
        pool,
        sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM eas_instances \
         WHERE account_id = $1 AND cluster = $2 AND service = $3 ORDER BY name COLLATE \"C\""
        ))
        .bind(as_i64(account_id))
        .bind(cluster)
        .bind(service),
        decode_instance,
    )
    .await
}

pub(super) async fn remove_instance(
    transaction: Transaction<'static, Postgres>,
    instance: EasInstanceName<'_>,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let (account_id, cluster) = (instance.account_id, instance.cluster);
    let (service, name) = (instance.service, instance.name);
    let statement = sqlx::query(
        "DELETE FROM eas_instances \
         WHERE account_id = $1 AND cluster = $2 AND service = $3 AND name = $4",
    )
    .bind(as_i64(account_id))
    .bind(cluster)
    .bind(service)
    .bind(name);
    delete_one_audited(
        transaction,
        statement,
        StoreError::EasInstanceNotFound,
        audit,
    )
    .await
}

pub(super) async fn insert_tokens(
    mut transaction: Transaction<'static, Postgres>,
    tokens: &[InstanceToken],
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    for token in tokens {
        let result = sqlx::query(&format!(
            "INSERT INTO eas_instance_tokens ({TOKEN_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&token.token_hash)
        .bind(&token.grant_id)
        .bind(token.purpose.as_str())
        .bind(as_i64(token.account_id))
        .bind(as_i64(token.principal_uin))
        .bind(&token.key_id)
        .bind(&token.cluster)
        .bind(&token.service)
        .bind(&token.instance)
        .bind(&token.worker)
        .bind(nanos(token.created_at))
        .bind(nanos(token.expires_at))
        .bind(token.used_at.map(nanos))
        .execute(&mut *transaction)
        .await;
        // Dropping the transaction undoes the tokens inserted before.
        inserted(result, StoreError::IdentifierTaken)?;
    }
    commit_audited(transaction, audit).await
}

pub(super) async fn find_token(
    pool: &PgPool,
    token_hash: &[u8],
) -> Result<Option<InstanceToken>, StoreError> {
    select_one(
        pool,
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM eas_instance_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash),
        decode_token,
    )
    .await
}

pub(super) async fn burn_token(
    mut transaction: Transaction<'static, Postgres>,
    redemption: TokenRedemption<'_>,
    audit: &AuditEvent,
) -> Result<InstanceToken, StoreError> {
    let (token_hash, purpose, now) = (redemption.token_hash, redemption.purpose, redemption.now);
    // The lock orders concurrent redemptions of one token: each later one waits, then reads
    // the token as the earlier one left it (used).
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM eas_instance_tokens WHERE token_hash = $1 FOR UPDATE"
    ))
    .bind(token_hash)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(backend)?;
    let mut token = row
        .map(|row| decode_token(&row))
        .transpose()?
        .filter(|token| token.purpose == purpose)
        .ok_or(StoreError::InstanceTokenNotFound)?;
    if token.used_at.is_some() {
        return Err(StoreError::InstanceTokenUsed);
    }
    if token.is_expired(now) {
        return Err(StoreError::InstanceTokenExpired);
    }
    sqlx::query("UPDATE eas_instance_tokens SET used_at = $2 WHERE token_hash = $1")
        .bind(token_hash)
        .bind(nanos(now))
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    insert_audit(&mut transaction, audit).await?;
    commit(transaction).await?;
    token.used_at = Some(now);
    Ok(token)
}

pub(super) async fn forget_expired_tokens(
    pool: &PgPool,
    expired_before: OffsetDateTime,
) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("DELETE FROM eas_instance_tokens WHERE expires_at <= $1")
            .bind(nanos(expired_before))
            .execute(pool)
            .await
            .map_err(backend)?
            .rows_affected(),
    )
}

#[async_trait]
impl EasStore for PostgresStore {
    async fn create_eas_service(
        &self,
        service: EasService,
        audit: AuditEvent,
    ) -> Result<EasService, StoreError> {
        insert_service(self.begin().await?, &service, &audit).await?;
        Ok(service)
    }

    async fn eas_service(
        &self,
        account_id: u64,
        cluster: &str,
        name: &str,
    ) -> Result<Option<EasService>, StoreError> {
        find_service(&self.pool, account_id, cluster, name).await
    }

    async fn list_eas_services(&self, account_id: u64) -> Result<Vec<EasService>, StoreError> {
        list_services(&self.pool, account_id).await
    }

    async fn delete_eas_service(
        &self,
        service: EasServiceName<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        delete_service(self.begin().await?, service, &audit).await
    }

    async fn add_eas_instance(
        &self,
        instance: EasInstance,
        audit: AuditEvent,
    ) -> Result<EasInstance, StoreError> {
        insert_instance(self.begin().await?, &instance, &audit).await?;
        Ok(instance)
    }

    async fn eas_instance(
        &self,
        instance: EasInstanceName<'_>,
    ) -> Result<Option<EasInstance>, StoreError> {
        find_instance(&self.pool, instance).await
    }

    async fn list_eas_instances(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
    ) -> Result<Vec<EasInstance>, StoreError> {
        list_instances(&self.pool, account_id, cluster, service).await
    }

    async fn remove_eas_instance(
        &self,
        instance: EasInstanceName<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        remove_instance(self.begin().await?, instance, &audit).await
    }

    async fn create_instance_tokens(
        &self,
        tokens: Vec<InstanceToken>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        insert_tokens(self.begin().await?, &tokens, &audit).await
    }

    async fn instance_token(&self, token_hash: &[u8]) -> Result<Option<InstanceToken>, StoreError> {
        find_token(&self.pool, token_hash).await
    }

    async fn burn_instance_token(
        &self,
        redemption: TokenRedemption<'_>,
        audit: AuditEvent,
    ) -> Result<InstanceToken, StoreError> {
        burn_token(self.begin().await?, redemption, &audit).await
    }

    async fn forget_expired_instance_tokens(
        &self,
        expired_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        forget_expired_tokens(&self.pool, expired_before).await
    }
}
