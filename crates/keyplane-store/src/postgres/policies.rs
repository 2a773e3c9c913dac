//! Users, custom policies and policy attachments on PostgreSQL. These writes are rare, so each
//! is a plain transaction of its own (not a group-commit operation). Limits are serialised
//! across nodes by row locks taken in the order every batch takes them (accounts, users,
//! access keys): the account row (`FOR UPDATE`) for the custom-policy limit, the user row
//! (`FOR UPDATE`) for attachments and deletion. Permission changes and deleted keys are
//! announced on `keyplane_key_changes` in the same transaction, so every node hears of them on
//! commit.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{CustomPolicy, PolicyAttachment, PolicySyntax, PolicyType};
use keyplane_core::store::{AttachPolicy, DeleteCustomPolicy, UserPolicy};
use keyplane_core::store::{PolicyStore, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use time::OffsetDateTime;

use super::audit::{commit_audited, insert_audit};
use super::changes::{notify, user_payload};
use super::users::lock_user;
use super::{backend, commit, time_column, violated_constraint, PostgresStore};
use crate::codec::{as_i64, as_u64, nanos};

const POLICY_COLUMNS: &str = "account_id, id, name, description, syntax, document, created_at";

/// A custom policy from columns named as in `custom_policies`, prefixed with `prefix`.
fn decode_policy(row: &PgRow, prefix: &str) -> Result<CustomPolicy, StoreError> {
    let column = |name: &str| format!("{prefix}{name}");
    let syntax: String = row.try_get(column("syntax").as_str()).map_err(backend)?;
    Ok(CustomPolicy {
        account_id: as_u64(
            row.try_get(column("account_id").as_str())
                .map_err(backend)?,
        ),
        id: as_u64(row.try_get(column("id").as_str()).map_err(backend)?),
        name: row.try_get(column("name").as_str()).map_err(backend)?,
        description: row
            .try_get(column("description").as_str())
            .map_err(backend)?,
        syntax: PolicySyntax::parse(&syntax)
            .ok_or_else(|| StoreError::Backend(format!("unknown policy syntax {syntax}")))?,
        document: row.try_get(column("document").as_str()).map_err(backend)?,
        created_at: time_column(row, &column("created_at"))?,
    })
}

/// Inserts a custom policy: `PolicyNameTaken`, then `PolicyLimitExceeded`, then
/// `IdentifierTaken`. The account's row is locked first, so concurrent creations on any nodes
/// count one after the other.
pub(super) async fn create_custom_policy(
    mut transaction: Transaction<'static, Postgres>,
    policy: &CustomPolicy,
    limit: u32,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let account_id = as_i64(policy.account_id);
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")
        .bind(account_id)
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    let row = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM custom_policies WHERE account_id = $1 AND name = $2) \
         AS name_taken, \
         (SELECT COUNT(*) FROM custom_policies WHERE account_id = $1) AS held",
    )
    .bind(account_id)
    .bind(&policy.name)
    .fetch_one(&mut *transaction)
    .await
    .map_err(backend)?;
    if row.try_get::<bool, _>("name_taken").map_err(backend)? {
        return Err(StoreError::PolicyNameTaken);
    }
    if row.try_get::<i64, _>("held").map_err(backend)? >= i64::from(limit) {
        return Err(StoreError::PolicyLimitExceeded { limit });
    }
    let result = sqlx::query(
        "INSERT INTO custom_policies (account_id, id, name, description, syntax, document, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(account_id)
    .bind(as_i64(policy.id))
    .bind(&policy.name)
    .bind(&policy.description)
    .bind(policy.syntax.as_str())
    .bind(&policy.document)
    .bind(nanos(policy.created_at))
    .execute(&mut *transaction)
    .await;
    match result {
        Ok(_) => {}
        Err(error) => {
            return Err(match violated_constraint(&error).as_deref() {
                Some("custom_policies_name_is_unique") => StoreError::PolicyNameTaken,
                Some(_) => StoreError::IdentifierTaken,
                None => backend(error),
            })
        }
    }
    commit_audited(transaction, audit).await
}

pub(super) async fn policy_by_name(
    pool: &PgPool,
    account_id: u64,
    name: &str,
) -> Result<Option<CustomPolicy>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {POLICY_COLUMNS} FROM custom_policies WHERE account_id = $1 AND name = $2"
    ))
    .bind(as_i64(account_id))
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(|row| decode_policy(&row, "")).transpose()
}

pub(super) async fn policy_by_id(
    pool: &PgPool,
    account_id: u64,
    id: u64,
) -> Result<Option<CustomPolicy>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {POLICY_COLUMNS} FROM custom_policies WHERE account_id = $1 AND id = $2"
    ))
    .bind(as_i64(account_id))
    .bind(as_i64(id))
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(|row| decode_policy(&row, "")).transpose()
}

/// What to attach, and under which limit.
pub(super) struct Attachment<'a> {
    pub account_id: u64,
    pub uin: u64,
    pub policy_type: PolicyType,
    pub policy_name: &'a str,
    pub attached_at: OffsetDateTime,
    pub limit: u32,
}

/// Attaches a policy: `UserNotFound`, then `PolicyNotFound` (custom only), then
/// `PolicyAlreadyAttached`, then `AttachmentLimitExceeded`. Locks the account (`FOR KEY
/// SHARE`, as the attachment's foreign key would, but before the user, in the batches' order)
/// and then the user (`FOR UPDATE`), so concurrent attachments to one user count one after
/// the other on every node.
pub(super) async fn attach_policy(
    mut transaction: Transaction<'static, Postgres>,
    attachment: &Attachment<'_>,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let account_id = as_i64(attachment.account_id);
    let uin = as_i64(attachment.uin);
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR KEY SHARE")
        .bind(account_id)
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    if !lock_user(&mut transaction, attachment.account_id, attachment.uin).await? {
        return Err(StoreError::UserNotFound);
    }
    let row = sqlx::query(
        "SELECT ($3 <> 'Custom' OR EXISTS (SELECT 1 FROM custom_policies \
                 WHERE account_id = $1 AND name = $4)) AS policy_exists, \
         EXISTS (SELECT 1 FROM policy_attachments \
                 WHERE user_uin = $2 AND policy_type = $3 AND policy_name = $4) AS attached, \
         (SELECT COUNT(*) FROM policy_attachments WHERE user_uin = $2) AS held",
    )
    .bind(account_id)
    .bind(uin)
    .bind(attachment.policy_type.as_str())
    .bind(attachment.policy_name)
    .fetch_one(&mut *transaction)
    .await
    .map_err(backend)?;
    if !row.try_get::<bool, _>("policy_exists").map_err(backend)? {
        return Err(StoreError::PolicyNotFound);
    }
    if row.try_get::<bool, _>("attached").map_err(backend)? {
        return Err(StoreError::PolicyAlreadyAttached);
    }
    if row.try_get::<i64, _>("held").map_err(backend)? >= i64::from(attachment.limit) {
        return Err(StoreError::AttachmentLimitExceeded {
            limit: attachment.limit,
        });
    }
    sqlx::query(
        "INSERT INTO policy_attachments (account_id, user_uin, policy_type, policy_name, \
         attached_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(account_id)
    .bind(uin)
    .bind(attachment.policy_type.as_str())
    .bind(attachment.policy_name)
    .bind(nanos(attachment.attached_at))
    .execute(&mut *transaction)
    .await
    .map_err(backend)?;
    notify(
        &mut transaction,
        &user_payload(attachment.account_id, attachment.uin),
    )
    .await?;
    commit_audited(transaction, audit).await
}

/// Detaches a policy: `UserNotFound`, then `PolicyNotAttached`.
pub(super) async fn detach_policy(
    mut transaction: Transaction<'static, Postgres>,
    policy: UserPolicy<'_>,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let (account_id, uin, policy_type) = (policy.account_id, policy.uin, policy.policy_type);
    let policy_name = policy.policy_name;
    if !lock_user(&mut transaction, account_id, uin).await? {
        return Err(StoreError::UserNotFound);
    }
    let detached = sqlx::query(
        "DELETE FROM policy_attachments \
         WHERE user_uin = $1 AND policy_type = $2 AND policy_name = $3",
    )
    .bind(as_i64(uin))
    .bind(policy_type.as_str())
    .bind(policy_name)
    .execute(&mut *transaction)
    .await
    .map_err(backend)?
    .rows_affected();
    if detached == 0 {
        return Err(StoreError::PolicyNotAttached);
    }
    notify(&mut transaction, &user_payload(account_id, uin)).await?;
    commit_audited(transaction, audit).await
}

/// Deletes a custom policy: `PolicyNotFound`, then `PolicyInUse` unless `detach`. Locks the
/// account (as creations do), then every user it is attached to (in uin order), so no
/// attachment comes or goes meanwhile; each detached user is announced. Returns their uins.
pub(super) async fn delete_custom_policy(
    mut transaction: Transaction<'static, Postgres>,
    request: DeleteCustomPolicy<'_>,
    audit: &AuditEvent,
) -> Result<Vec<u64>, StoreError> {
    let (account_id, name, detach) = (request.account_id, request.name, request.detach);
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")
        .bind(as_i64(account_id))
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM custom_policies WHERE account_id = $1 AND name = $2)",
    )
    .bind(as_i64(account_id))
    .bind(name)
    .fetch_one(&mut *transaction)
    .await
    .map_err(backend)?;
    if !exists {
        return Err(StoreError::PolicyNotFound);
    }
    let uins: Vec<i64> = sqlx::query_scalar(
        "SELECT u.uin FROM users AS u JOIN policy_attachments AS a ON a.user_uin = u.uin \
         WHERE a.account_id = $1 AND a.policy_type = 'Custom' AND a.policy_name = $2 \
         ORDER BY u.uin FOR UPDATE OF u",
    )
    .bind(as_i64(account_id))
    .bind(name)
    .fetch_all(&mut *transaction)
    .await
    .map_err(backend)?;
    if !uins.is_empty() && !detach {
        return Err(StoreError::PolicyInUse);
    }
    for statement in [
        "DELETE FROM policy_attachments \
         WHERE account_id = $1 AND policy_type = 'Custom' AND policy_name = $2",
        "DELETE FROM custom_policies WHERE account_id = $1 AND name = $2",
    ] {
        sqlx::query(statement)
            .bind(as_i64(account_id))
            .bind(name)
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
    }
    let uins: Vec<u64> = uins.into_iter().map(as_u64).collect();
    for uin in &uins {
        notify(&mut transaction, &user_payload(account_id, *uin)).await?;
    }
    insert_audit(&mut transaction, audit).await?;
    commit(transaction).await?;
    Ok(uins)
}

/// Every custom policy of the account, oldest first then by name, with its attachment count.
pub(super) async fn list_custom_policies(
    pool: &PgPool,
    account_id: u64,
) -> Result<Vec<(CustomPolicy, u64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.account_id, p.id, p.name, p.description, p.syntax, p.document, p.created_at, \
         (SELECT COUNT(*) FROM policy_attachments AS a \
             WHERE a.account_id = p.account_id AND a.policy_type = 'Custom' \
             AND a.policy_name = p.name) AS attachments \
         FROM custom_policies AS p WHERE p.account_id = $1 \
         ORDER BY p.created_at, p.name COLLATE \"C\"",
    )
    .bind(as_i64(account_id))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            let attachments: i64 = row.try_get("attachments").map_err(backend)?;
            Ok((decode_policy(row, "")?, as_u64(attachments)))
        })
        .collect()
}

/// How many users of the account have the policy attached.
pub(super) async fn policy_attachment_count(
    pool: &PgPool,
    account_id: u64,
    policy_type: PolicyType,
    name: &str,
) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM policy_attachments \
         WHERE account_id = $1 AND policy_type = $2 AND policy_name = $3",
    )
    .bind(as_i64(account_id))
    .bind(policy_type.as_str())
    .bind(name)
    .fetch_one(pool)
    .await
    .map_err(backend)?;
    Ok(as_u64(count))
}

/// A user's attachments in attach order, each custom one with its policy: one query.
pub(super) async fn user_policies(
    pool: &PgPool,
    account_id: u64,
    uin: u64,
) -> Result<Vec<PolicyAttachment>, StoreError> {
    let rows = sqlx::query(
        "SELECT a.policy_type, a.policy_name, a.attached_at, p.account_id AS custom_account_id, \
         p.id AS custom_id, p.name AS custom_name, p.description AS custom_description, \
         p.syntax AS custom_syntax, p.document AS custom_document, \
         p.created_at AS custom_created_at \
         FROM policy_attachments AS a \
         LEFT JOIN custom_policies AS p ON a.policy_type = 'Custom' \
             AND p.account_id = a.account_id AND p.name = a.policy_name \
         WHERE a.user_uin = $2 AND a.account_id = $1 \
         ORDER BY a.attached_at, a.policy_type COLLATE \"C\", a.policy_name COLLATE \"C\"",
    )
    .bind(as_i64(account_id))
    .bind(as_i64(uin))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            let policy_type: String = row.try_get("policy_type").map_err(backend)?;
            let policy_id: Option<i64> = row.try_get("custom_id").map_err(backend)?;
            Ok(PolicyAttachment {
                policy_type: PolicyType::parse(&policy_type).ok_or_else(|| {
                    StoreError::Backend(format!("unknown policy type {policy_type}"))
                })?,
                policy_name: row.try_get("policy_name").map_err(backend)?,
                attached_at: time_column(row, "attached_at")?,
                custom: match policy_id {
                    Some(_) => Some(decode_policy(row, "custom_")?),
                    None => None,
                },
            })
        })
        .collect()
}

#[async_trait]
impl PolicyStore for PostgresStore {
    async fn create_custom_policy(
        &self,
        policy: CustomPolicy,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<CustomPolicy, StoreError> {
        create_custom_policy(self.begin().await?, &policy, limit, &audit).await?;
        Ok(policy)
    }

    async fn custom_policy_by_name(
        &self,
        account_id: u64,
        name: &str,
    ) -> Result<Option<CustomPolicy>, StoreError> {
        policy_by_name(&self.pool, account_id, name).await
    }

    async fn custom_policy_by_id(
        &self,
        account_id: u64,
        id: u64,
    ) -> Result<Option<CustomPolicy>, StoreError> {
        policy_by_id(&self.pool, account_id, id).await
    }

    async fn delete_custom_policy(
        &self,
        request: DeleteCustomPolicy<'_>,
        audit: AuditEvent,
    ) -> Result<Vec<u64>, StoreError> {
        delete_custom_policy(self.begin().await?, request, &audit).await
    }

    async fn list_custom_policies(
        &self,
        account_id: u64,
    ) -> Result<Vec<(CustomPolicy, u64)>, StoreError> {
        list_custom_policies(&self.pool, account_id).await
    }

    async fn policy_attachment_count(
        &self,
        account_id: u64,
        policy_type: PolicyType,
        name: &str,
    ) -> Result<u64, StoreError> {
        policy_attachment_count(&self.pool, account_id, policy_type, name).await
    }

    async fn attach_policy(
        &self,
        request: AttachPolicy<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let policy = request.policy;
        let attachment = Attachment {
            account_id: policy.account_id,
            uin: policy.uin,
            policy_type: policy.policy_type,
            policy_name: policy.policy_name,
            attached_at: request.attached_at,
            limit: request.limit,
        };
        attach_policy(self.begin().await?, &attachment, &audit).await
    }

    async fn detach_policy(
        &self,
        policy: UserPolicy<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        detach_policy(self.begin().await?, policy, &audit).await
    }

    async fn user_policies(
        &self,
        account_id: u64,
        uin: u64,
    ) -> Result<Vec<PolicyAttachment>, StoreError> {
        user_policies(&self.pool, account_id, uin).await
    }
}
