//! Users, custom policies and policy attachments on SQLite. Every write runs as one job of the
//! single writer (in its own savepoint), so its checks and changes are atomic and serialised
//! with every other write: no lock is needed for the limits.

use async_trait::async_trait;
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{CustomPolicy, PolicyAttachment, PolicySyntax, PolicyType};
use keyplane_core::store::{AttachPolicy, DeleteCustomPolicy, UserPolicy};
use keyplane_core::store::{PolicyStore, StoreError};
use rusqlite::{params, Connection, Row};

use super::audit::insert_audit;
use super::users::find_user;
use super::worker::backend;
use super::{conversion_error, from_nanos, inserted, select_all, select_one, SqliteStore};
use crate::codec::{as_i64, as_u64, nanos};

const POLICY_COLUMNS: &str = "account_id, id, name, description, syntax, document, created_at";

/// A custom policy from `POLICY_COLUMNS` starting at column `first` (`None` when its id is
/// NULL, as on the outer side of a join).
fn policy_from_columns(row: &Row<'_>, first: usize) -> rusqlite::Result<Option<CustomPolicy>> {
    let Some(id) = row.get::<_, Option<i64>>(first + 1)? else {
        return Ok(None);
    };
    let syntax: String = row.get(first + 4)?;
    Ok(Some(CustomPolicy {
        account_id: as_u64(row.get(first)?),
        id: as_u64(id),
        name: row.get(first + 2)?,
        description: row.get(first + 3)?,
        syntax: PolicySyntax::parse(&syntax)
            .ok_or_else(|| conversion_error(format!("unknown policy syntax {syntax}")))?,
        document: row.get(first + 5)?,
        created_at: from_nanos(row.get(first + 6)?)?,
    }))
}

fn decode_policy(row: &Row<'_>) -> rusqlite::Result<CustomPolicy> {
    policy_from_columns(row, 0)?
        .ok_or_else(|| conversion_error("a custom policy without an id".to_owned()))
}

pub(super) fn attachment_count(connection: &Connection, uin: u64) -> Result<i64, StoreError> {
    connection
        .prepare_cached("SELECT COUNT(*) FROM policy_attachments WHERE user_uin = ?1")
        .and_then(|mut statement| statement.query_row([as_i64(uin)], |row| row.get(0)))
        .map_err(backend)
}

/// Inserts a custom policy. Checked in this order: `PolicyNameTaken`, `PolicyLimitExceeded`,
/// `IdentifierTaken` (a name already taken is the answer whatever the count; an id collision,
/// which the caller cures by drawing another id, is looked at last).
pub(super) fn create_custom_policy(
    connection: &Connection,
    policy: &CustomPolicy,
    limit: u32,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let account_id = as_i64(policy.account_id);
    let (name_taken, held): (bool, i64) = connection
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM custom_policies WHERE account_id = ?1 AND name = ?2), \
             (SELECT COUNT(*) FROM custom_policies WHERE account_id = ?1)",
            params![account_id, policy.name],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(backend)?;
    if name_taken {
        return Err(StoreError::PolicyNameTaken);
    }
    if held >= i64::from(limit) {
        return Err(StoreError::PolicyLimitExceeded { limit });
    }
    let result = connection.execute(
        "INSERT INTO custom_policies (account_id, id, name, description, syntax, document, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            account_id,
            as_i64(policy.id),
            policy.name,
            policy.description,
            policy.syntax.as_str(),
            policy.document,
            nanos(policy.created_at),
        ],
    );
    inserted(result, StoreError::IdentifierTaken)?;
    insert_audit(connection, audit)
}

/// A custom policy by name within an account.
pub(super) fn policy_by_name(
    connection: &Connection,
    account_id: u64,
    name: &str,
) -> Result<Option<CustomPolicy>, StoreError> {
    select_one(
        connection,
        &format!(
            "SELECT {POLICY_COLUMNS} FROM custom_policies WHERE account_id = ?1 AND name = ?2"
        ),
        params![as_i64(account_id), name],
        decode_policy,
    )
}

/// A custom policy by id within an account.
pub(super) fn policy_by_id(
    connection: &Connection,
    account_id: u64,
    id: u64,
) -> Result<Option<CustomPolicy>, StoreError> {
    select_one(
        connection,
        &format!("SELECT {POLICY_COLUMNS} FROM custom_policies WHERE account_id = ?1 AND id = ?2"),
        params![as_i64(account_id), as_i64(id)],
        decode_policy,
    )
}

/// What to attach, and under which limit.
pub(super) struct Attachment {
    pub account_id: u64,
    pub uin: u64,
    pub policy_type: PolicyType,
    pub policy_name: String,
    pub attached_at: i64,
    pub limit: u32,
}

/// Attaches a policy. Checked in this order: `UserNotFound`, `PolicyNotFound` (custom only),
/// `PolicyAlreadyAttached`, `AttachmentLimitExceeded`.
pub(super) fn attach_policy(
    connection: &Connection,
    attachment: &Attachment,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    if find_user(connection, attachment.account_id, attachment.uin)?.is_none() {
        return Err(StoreError::UserNotFound);
    }
    if attachment.policy_type == PolicyType::Custom
        && policy_by_name(connection, attachment.account_id, &attachment.policy_name)?.is_none()
    {
        return Err(StoreError::PolicyNotFound);
    }
    if is_attached(
        connection,
        attachment.uin,
        attachment.policy_type,
        &attachment.policy_name,
    )? {
        return Err(StoreError::PolicyAlreadyAttached);
    }
    if attachment_count(connection, attachment.uin)? >= i64::from(attachment.limit) {
        return Err(StoreError::AttachmentLimitExceeded {
            limit: attachment.limit,
        });
    }
    connection
        .execute(
            "INSERT INTO policy_attachments (account_id, user_uin, policy_type, policy_name, \
             attached_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                as_i64(attachment.account_id),
                as_i64(attachment.uin),
                attachment.policy_type.as_str(),
                attachment.policy_name,
                attachment.attached_at,
            ],
        )
        .map_err(backend)?;
    insert_audit(connection, audit)
}

fn is_attached(
    connection: &Connection,
    uin: u64,
    policy_type: PolicyType,
    policy_name: &str,
) -> Result<bool, StoreError> {
    connection
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM policy_attachments \
             WHERE user_uin = ?1 AND policy_type = ?2 AND policy_name = ?3)",
        )
        .and_then(|mut statement| {
            statement.query_row(
                params![as_i64(uin), policy_type.as_str(), policy_name],
                |row| row.get(0),
            )
        })
        .map_err(backend)
}

/// Detaches a policy: `UserNotFound`, `PolicyNotAttached`.
pub(super) fn detach_policy(
    connection: &Connection,
    policy: UserPolicy<'_>,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let (account_id, uin, policy_type) = (policy.account_id, policy.uin, policy.policy_type);
    let policy_name = policy.policy_name;
    if find_user(connection, account_id, uin)?.is_none() {
        return Err(StoreError::UserNotFound);
    }
    let detached = connection
        .execute(
            "DELETE FROM policy_attachments \
             WHERE user_uin = ?1 AND policy_type = ?2 AND policy_name = ?3",
            params![as_i64(uin), policy_type.as_str(), policy_name],
        )
        .map_err(backend)?;
    if detached == 0 {
        return Err(StoreError::PolicyNotAttached);
    }
    insert_audit(connection, audit)
}

/// Deletes a custom policy: `PolicyNotFound`, then `PolicyInUse` unless `detach`. Returns the
/// uins it was detached from.
pub(super) fn delete_custom_policy(
    connection: &Connection,
    request: DeleteCustomPolicy<'_>,
    audit: &AuditEvent,
) -> Result<Vec<u64>, StoreError> {
    let (account_id, name, detach) = (request.account_id, request.name, request.detach);
    let exists: bool = connection
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM custom_policies WHERE account_id = ?1 AND name = ?2)",
        )
        .and_then(|mut statement| {
            statement.query_row(params![as_i64(account_id), name], |row| row.get(0))
        })
        .map_err(backend)?;
    if !exists {
        return Err(StoreError::PolicyNotFound);
    }
    let uins: Vec<u64> = {
        let mut statement = connection
            .prepare_cached(
                "SELECT user_uin FROM policy_attachments \
                 WHERE account_id = ?1 AND policy_type = 'Custom' AND policy_name = ?2 \
                 ORDER BY user_uin",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map(params![as_i64(account_id), name], |row| {
                row.get::<_, i64>(0).map(as_u64)
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?
    };
    if !uins.is_empty() && !detach {
        return Err(StoreError::PolicyInUse);
    }
    for statement in [
        "DELETE FROM policy_attachments \
         WHERE account_id = ?1 AND policy_type = 'Custom' AND policy_name = ?2",
        "DELETE FROM custom_policies WHERE account_id = ?1 AND name = ?2",
    ] {
        connection
            .execute(statement, params![as_i64(account_id), name])
            .map_err(backend)?;
    }
    insert_audit(connection, audit)?;
    Ok(uins)
}

/// Every custom policy of the account, oldest first then by name, with its attachment count.
pub(super) fn list_custom_policies(
    connection: &Connection,
    account_id: u64,
) -> Result<Vec<(CustomPolicy, u64)>, StoreError> {
    select_all(
        connection,
        "SELECT p.account_id, p.id, p.name, p.description, p.syntax, p.document, \
             p.created_at, (SELECT COUNT(*) FROM policy_attachments AS a \
                 WHERE a.account_id = p.account_id AND a.policy_type = 'Custom' \
                 AND a.policy_name = p.name) \
             FROM custom_policies AS p WHERE p.account_id = ?1 \
             ORDER BY p.created_at, p.name",
        [as_i64(account_id)],
        |row| {
            let policy = policy_from_columns(row, 0)?
                .ok_or_else(|| conversion_error("a listed custom policy has no id".to_owned()))?;
            let attachments: i64 = row.get(7)?;
            Ok((policy, as_u64(attachments)))
        },
    )
}

/// How many users of the account have the policy attached.
pub(super) fn policy_attachment_count(
    connection: &Connection,
    account_id: u64,
    policy_type: PolicyType,
    name: &str,
) -> Result<u64, StoreError> {
    connection
        .prepare_cached(
            "SELECT COUNT(*) FROM policy_attachments \
             WHERE account_id = ?1 AND policy_type = ?2 AND policy_name = ?3",
        )
        .and_then(|mut statement| {
            statement.query_row(
                params![as_i64(account_id), policy_type.as_str(), name],
                |row| row.get::<_, i64>(0),
            )
        })
        .map(as_u64)
        .map_err(backend)
}

/// A user's attachments in attach order, each custom one with its policy: one query.
pub(super) fn user_policies(
    connection: &Connection,
    account_id: u64,
    uin: u64,
) -> Result<Vec<PolicyAttachment>, StoreError> {
    select_all(
        connection,
        "SELECT a.policy_type, a.policy_name, a.attached_at, p.account_id, p.id, p.name, \
             p.description, p.syntax, p.document, p.created_at \
             FROM policy_attachments AS a \
             LEFT JOIN custom_policies AS p ON a.policy_type = 'Custom' \
                 AND p.account_id = a.account_id AND p.name = a.policy_name \
             WHERE a.user_uin = ?2 AND a.account_id = ?1 \
             ORDER BY a.attached_at, a.policy_type, a.policy_name",
        params![as_i64(account_id), as_i64(uin)],
        |row| {
            let policy_type: String = row.get(0)?;
            Ok(PolicyAttachment {
                policy_type: PolicyType::parse(&policy_type).ok_or_else(|| {
                    conversion_error(format!("unknown policy type {policy_type}"))
                })?,
                policy_name: row.get(1)?,
                attached_at: from_nanos(row.get(2)?)?,
                custom: policy_from_columns(row, 3)?,
            })
        },
    )
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn create_custom_policy(
        &self,
        policy: CustomPolicy,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<CustomPolicy, StoreError> {
        self.connections
            .write(move |connection| {
                create_custom_policy(connection, &policy, limit, &audit)?;
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
            .read(move |connection| policy_by_name(connection, account_id, &name))
            .await
    }

    async fn custom_policy_by_id(
        &self,
        account_id: u64,
        id: u64,
    ) -> Result<Option<CustomPolicy>, StoreError> {
        self.connections
            .read(move |connection| policy_by_id(connection, account_id, id))
            .await
    }

    async fn delete_custom_policy(
        &self,
        request: DeleteCustomPolicy<'_>,
        audit: AuditEvent,
    ) -> Result<Vec<u64>, StoreError> {
        let (account_id, name, detach) =
            (request.account_id, request.name.to_owned(), request.detach);
        self.connections
            .write(move |connection| {
                let request = DeleteCustomPolicy::new(account_id, &name, detach);
                delete_custom_policy(connection, request, &audit)
            })
            .await
    }

    async fn list_custom_policies(
        &self,
        account_id: u64,
    ) -> Result<Vec<(CustomPolicy, u64)>, StoreError> {
        self.connections
            .read(move |connection| list_custom_policies(connection, account_id))
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
                policy_attachment_count(connection, account_id, policy_type, &name)
            })
            .await
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
            policy_name: policy.policy_name.to_owned(),
            attached_at: nanos(request.attached_at),
            limit: request.limit,
        };
        self.connections
            .write(move |connection| attach_policy(connection, &attachment, &audit))
            .await
    }

    async fn detach_policy(
        &self,
        policy: UserPolicy<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let (account_id, uin, policy_type) = (policy.account_id, policy.uin, policy.policy_type);
        let policy_name = policy.policy_name.to_owned();
        self.connections
            .write(move |connection| {
                let policy = UserPolicy::new(account_id, uin, policy_type, &policy_name);
                detach_policy(connection, policy, &audit)
            })
            .await
    }

    async fn user_policies(
        &self,
        account_id: u64,
        uin: u64,
    ) -> Result<Vec<PolicyAttachment>, StoreError> {
        self.connections
            .read(move |connection| user_policies(connection, account_id, uin))
            .await
    }
}
