//! The PostgreSQL implementation of the Store trait, for any number of `keyplane serve` nodes
//! on one database.
//!
//! Writes are group-committed (`operations`): every write use case, with its audit event, is
//! queued to a batcher, and the use cases that arrive while earlier batches are in flight are
//! applied together by one call of a PL/pgSQL function, in one transaction with one durable
//! commit, each with its own outcome. Quotas are serialised by locking the row they count
//! against (the owner user, the account) with `SELECT … FOR UPDATE`, so two nodes can never both
//! take the last slot; a batch takes all its row locks first, in one global order, so batches
//! on several nodes wait for each other instead of deadlocking.
//!
//! Key listings, the hot read, are coalesced the same way (`batcher`): the listings requested
//! while earlier ones are in flight are answered by one query. Other reads are single queries.
//! Migrations are compiled in and applied on connect under sqlx's advisory lock, so nodes
//! starting together apply them once.

mod batcher;
mod kept;
mod operations;

use std::collections::HashMap;
use std::sync::Arc;

mod activation;
mod audit;
mod changes;
mod eas;
mod iam;
mod listener;

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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, Row, Transaction};
use time::OffsetDateTime;

pub use batcher::BatchLimits;
use batcher::Batcher;
pub use changes::StoreChange;
use kept::{still_usable_after, KeptConnections};
pub use listener::{ListenerProbe, PROBE_CHANNEL};
use operations::{job_weight, outcome, single, Job, JobRows, Operation};

use crate::codec::{
    as_i64, as_u64, authorization_from_columns, nanos, tags_from_json, tags_to_json,
    time_from_nanos,
};

/// The channel on which access-key and permission changes are announced to every node (see
/// [`StoreChange`] for the payloads).
pub const KEY_CHANGES_CHANNEL: &str = "keyplane_key_changes";

/// An advisory-lock key that serialises `initialize` across nodes ("keyplane" in ASCII).
const INITIALIZE_LOCK: i64 = 0x6b65_7970_6c61_6e65;

/// Connection-pool and batching settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: std::time::Duration,
    /// Group commit: how many write batches may be in flight at once, and how many operations
    /// one batch takes.
    pub write_batches: BatchLimits,
    /// How many key-listing queries may be in flight at once, and how many listings one query
    /// answers.
    pub listing_batches: BatchLimits,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: std::time::Duration::from_secs(5),
            write_batches: operations::DEFAULT_WRITE_LIMITS,
            listing_batches: DEFAULT_LISTING_LIMITS,
        }
    }
}

/// Batch limits for key listings: up to two queries in flight (more make smaller batches and
/// cost more round trips per listing), 256 listings per query.
const DEFAULT_LISTING_LIMITS: BatchLimits = BatchLimits {
    in_flight: 2,
    max_weight: 256,
};

/// One `list_access_keys` request: account, owner, family.
type KeyListing = (i64, i64, KeyFamily);

/// Keyplane's store on a PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    kept: Arc<KeptConnections>,
    writes: Arc<Batcher<Job, JobRows>>,
    listings: Arc<Batcher<KeyListing, Vec<AccessKey>>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PostgresStore")
    }
}

/// Maps a database error to a backend failure (the text goes to logs only).
fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// The unique constraint a failed statement violated, if that is why it failed.
fn violated_constraint(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(database) if database.code().as_deref() == Some("23505") => {
            Some(database.constraint().unwrap_or_default().to_owned())
        }
        _ => None,
    }
}

fn decode<T>(result: Result<T, String>) -> Result<T, StoreError> {
    result.map_err(StoreError::Backend)
}

fn time_column(row: &PgRow, column: &str) -> Result<OffsetDateTime, StoreError> {
    decode(time_from_nanos(row.try_get(column).map_err(backend)?))
}

const USER_COLUMNS: &str = "account_id, uin, name, created_at, display_name, comments, email, \
     phone_country_code, phone_number, console_login";

fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
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

fn sealed_from_row(row: &PgRow) -> Result<SealedBlob, StoreError> {
    let version: i64 = row.try_get("secret_key_version").map_err(backend)?;
    Ok(SealedBlob {
        key_version: u32::try_from(version)
            .map_err(|_| StoreError::Backend(format!("key version {version} out of range")))?,
        ciphertext: row.try_get("secret_ciphertext").map_err(backend)?,
    })
}

fn access_key_from_row(row: &PgRow) -> Result<AccessKey, StoreError> {
    let family: String = row.try_get("family").map_err(backend)?;
    let status: String = row.try_get("status").map_err(backend)?;
    Ok(AccessKey {
        id: row.try_get("id").map_err(backend)?,
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        owner_uin: as_u64(row.try_get("owner_uin").map_err(backend)?),
        family: KeyFamily::parse(&family)
            .ok_or_else(|| StoreError::Backend(format!("unknown key family {family}")))?,
        status: KeyStatus::parse(&status)
            .ok_or_else(|| StoreError::Backend(format!("unknown key status {status}")))?,
        description: row.try_get("description").map_err(backend)?,
        sealed_secret: sealed_from_row(row)?,
        created_at: time_column(row, "created_at")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

fn api_key_from_row(row: &PgRow) -> Result<ApiKey, StoreError> {
    let key_type: String = row.try_get("key_type").map_err(backend)?;
    let tags: String = row.try_get("tags").map_err(backend)?;
    Ok(ApiKey {
        id: row.try_get("id").map_err(backend)?,
        account_id: as_u64(row.try_get("account_id").map_err(backend)?),
        key_type: ApiKeyType::parse(&key_type)
            .ok_or_else(|| StoreError::Backend(format!("unknown API key type {key_type}")))?,
        secret_name: row.try_get("secret_name").map_err(backend)?,
        enabled: row.try_get("enabled").map_err(backend)?,
        tags: decode(tags_from_json(&tags))?,
        sealed_secret: sealed_from_row(row)?,
        created_at: time_column(row, "created_at")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

const ACCESS_KEY_COLUMNS: &str = "id, account_id, owner_uin, family, status, description, \
     secret_key_version, secret_ciphertext, created_at, updated_at";
const API_KEY_COLUMNS: &str = "id, account_id, key_type, secret_name, enabled, tags, \
     secret_key_version, secret_ciphertext, created_at, updated_at";

async fn insert_audit(
    transaction: &mut Transaction<'_, Postgres>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let authorization = event.authorization.as_ref();
    sqlx::query(
        "INSERT INTO audit_events (time, request_id, account_id, principal_uin, key_id, \
         product, action, target, outcome, source_address, user_agent, detail, decision, \
         decision_statement) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(nanos(event.time))
    .bind(&event.request_id)
    .bind(event.account_id.map(as_i64))
    .bind(event.principal_uin.map(as_i64))
    .bind(&event.key_id)
    .bind(&event.product)
    .bind(&event.action)
    .bind(&event.target)
    .bind(&event.outcome)
    .bind(&event.source_address)
    .bind(&event.user_agent)
    .bind(&event.detail)
    .bind(authorization.map(|authorization| &authorization.decision))
    .bind(authorization.and_then(|authorization| authorization.statement.as_ref()))
    .execute(&mut **transaction)
    .await
    .map_err(backend)?;
    Ok(())
}

/// The error for an outcome word a use case does not expect.
fn unexpected(outcome: &str) -> StoreError {
    StoreError::Backend(format!("unexpected outcome {outcome}"))
}

async fn insert_access_key(
    transaction: &mut Transaction<'_, Postgres>,
    key: &NewAccessKey,
) -> Result<(), StoreError> {
    let result = sqlx::query(
        "INSERT INTO access_keys (id, account_id, owner_uin, family, status, description, \
         secret_key_version, secret_ciphertext, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'Active', $5, $6, $7, $8, $8)",
    )
    .bind(&key.id)
    .bind(as_i64(key.account_id))
    .bind(as_i64(key.owner_uin))
    .bind(key.family.as_str())
    .bind(&key.description)
    .bind(i64::from(key.sealed_secret.key_version))
    .bind(&key.sealed_secret.ciphertext)
    .bind(nanos(key.created_at))
    .execute(&mut **transaction)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(error) if violated_constraint(&error).is_some() => Err(StoreError::IdentifierTaken),
        Err(error) => Err(backend(error)),
    }
}

impl PostgresStore {
    /// Connects to `url` and applies pending migrations.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|error: sqlx::Error| StoreError::Backend(format!("database URL: {error}")))?;
        Self::connect_with(options, settings).await
    }

    /// Connects with explicit options (a test points `search_path` at its own schema).
    pub async fn connect_with(
        options: PgConnectOptions,
        settings: &PoolSettings,
    ) -> Result<Self, StoreError> {
        // Batch runners keep their connections; the change listener holds one; at least one
        // more must be left for every other query.
        let needed = settings.write_batches.in_flight + settings.listing_batches.in_flight + 2;
        if usize::try_from(settings.max_connections).unwrap_or(usize::MAX) < needed {
            return Err(StoreError::Backend(format!(
                "the connection pool needs at least {needed} connections: one per write batch \
                 and listing query in flight, one for the change listener and one for the rest"
            )));
        }
        // Every query here has an index to use. A connection caches a statement's plan; one
        // planned while a table was tiny is a sequential scan, and stays one while create and
        // delete churn fills the table with dead rows, until autovacuum analyses it again
        // (listings ran at a third of their speed after a write burst). With sequential scans
        // off the planner uses them only where no index applies.
        //
        // sqlx pings a connection every time it is taken from the pool by default: a round trip
        // (and a wake-up of the server process) per query. Only connections that sat idle for
        // a while are checked; a busy connection that breaks fails the query that uses it.
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|connection, metadata| {
                Box::pin(async move {
                    if metadata.idle_for >= kept::PING_WHEN_IDLE_FOR {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(
                options
                    .options([("enable_seqscan", "off")])
                    .options(listener::SERVER_KEEPALIVE),
            )
            .await
            .map_err(backend)?;
        migrate(&pool).await?;
        let kept = Arc::new(KeptConnections::new(pool.clone()));
        let write_connections = Arc::clone(&kept);
        let writes = Batcher::start(
            "writer",
            settings.write_batches,
            job_weight,
            move |jobs: Vec<Job>| operations::apply(Arc::clone(&write_connections), jobs),
        );
        let listing_connections = Arc::clone(&kept);
        let listings = Batcher::start(
            "key listing",
            settings.listing_batches,
            |_: &KeyListing| 1,
            move |requests: Vec<KeyListing>| {
                list_access_keys_together(Arc::clone(&listing_connections), requests)
            },
        );
        Ok(Self {
            pool,
            kept,
            writes: Arc::new(writes),
            listings: Arc::new(listings),
        })
    }

    /// Applies pending migrations (under an advisory lock: safe when nodes start together).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrate(&self.pool).await
    }

    /// The connection pool, for operations outside the Store trait.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Answers the writes and listings already queued, then closes the pool, waiting for
    /// connections in use.
    pub async fn close(&self) {
        self.writes.close().await;
        self.listings.close().await;
        self.kept.release_all();
        self.pool.close().await;
    }

    /// Applies one use case's operations with the next group commit.
    async fn write(&self, job: Job) -> Result<JobRows, StoreError> {
        self.writes.submit(job).await
    }

    /// Applies a use case of one operation and returns its result row and outcome word.
    async fn write_one(&self, operation: Operation) -> Result<(PgRow, String), StoreError> {
        let row = single(self.write(vec![operation]).await?)?;
        let outcome = outcome(&row)?;
        Ok((row, outcome))
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }
}

/// Applies the compiled-in migrations that `pool`'s database lacks, under sqlx's advisory lock.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::migrate!("migrations/postgres")
        .run(pool)
        .await
        .map_err(|error| StoreError::Backend(format!("migrating: {error}")))
}

async fn commit(transaction: Transaction<'_, Postgres>) -> Result<(), StoreError> {
    transaction.commit().await.map_err(backend)
}

/// Answers several key listings with one query. Each distinct (account, owner, family) is
/// looked up once and every request gets the keys of its own, oldest first; the query is sent
/// after every request of the batch was made, so each sees every write acknowledged before it.
async fn list_access_keys_together(
    connections: Arc<KeptConnections>,
    requests: Vec<KeyListing>,
) -> Vec<Result<Vec<AccessKey>, StoreError>> {
    let mut distinct: Vec<KeyListing> = Vec::new();
    let mut index_of: HashMap<KeyListing, usize> = HashMap::new();
    let positions: Vec<usize> = requests
        .iter()
        .map(|request| {
            *index_of.entry(*request).or_insert_with(|| {
                distinct.push(*request);
                distinct.len() - 1
            })
        })
        .collect();
    let answer = async {
        let account_ids: Vec<i64> = distinct.iter().map(|listing| listing.0).collect();
        let owner_uins: Vec<i64> = distinct.iter().map(|listing| listing.1).collect();
        let families: Vec<&str> = distinct.iter().map(|listing| listing.2.as_str()).collect();
        let mut connection = connections.take().await.map_err(backend)?;
        let rows = sqlx::query(
            "SELECT listing.number, k.id, k.account_id, k.owner_uin, k.family, k.status, \
             k.description, k.secret_key_version, k.secret_ciphertext, k.created_at, \
             k.updated_at \
             FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[]) WITH ORDINALITY \
             AS listing (account_id, owner_uin, family, number) \
             JOIN access_keys AS k ON k.account_id = listing.account_id \
             AND k.owner_uin = listing.owner_uin AND k.family = listing.family \
             ORDER BY listing.number, k.created_at, k.id",
        )
        .bind(account_ids)
        .bind(owner_uins)
        .bind(families)
        .fetch_all(&mut *connection)
        .await;
        let rows = match rows {
            Ok(rows) => {
                connections.keep(connection);
                rows
            }
            Err(error) => {
                if still_usable_after(&error) {
                    connections.keep(connection);
                }
                return Err(backend(error));
            }
        };
        let mut listings: Vec<Vec<AccessKey>> = vec![Vec::new(); distinct.len()];
        for row in &rows {
            let number: i64 = row.try_get("number").map_err(backend)?;
            let listing = usize::try_from(number - 1)
                .ok()
                .and_then(|index| listings.get_mut(index))
                .ok_or_else(|| StoreError::Backend(format!("no listing number {number}")))?;
            listing.push(access_key_from_row(row)?);
        }
        Ok::<_, StoreError>(listings)
    };
    match answer.await {
        Ok(listings) => positions
            .into_iter()
            .map(|position| Ok(listings[position].clone()))
            .collect(),
        Err(error) => positions.iter().map(|_| Err(error.clone())).collect(),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn initialize(
        &self,
        account: NewAccount,
        root_keys: Vec<NewAccessKey>,
    ) -> Result<(Account, User), StoreError> {
        let mut transaction = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(INITIALIZE_LOCK)
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&mut *transaction)
            .await
            .map_err(backend)?;
        if existing > 0 {
            return Err(StoreError::AlreadyInitialized);
        }
        sqlx::query("INSERT INTO accounts (id, created_at) VALUES ($1, $2)")
            .bind(as_i64(account.account_id))
            .bind(nanos(account.created_at))
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO users (uin, account_id, name, created_at) VALUES ($1, $1, $2, $3)",
        )
        .bind(as_i64(account.account_id))
        .bind(&account.root_name)
        .bind(nanos(account.created_at))
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
        for key in &root_keys {
            insert_access_key(&mut transaction, key).await?;
        }
        commit(transaction).await?;
        Ok((account.account(), account.root_user()))
    }

    async fn claim_master_key_check(&self, check_value: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ('master_key_check', $1) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(check_value)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        sqlx::query_scalar("SELECT value FROM settings WHERE name = 'master_key_check'")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn remember_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let operation = Operation {
            id: Some(key_id.to_owned()),
            name: Some(nonce.to_owned()),
            at_time: Some(nanos(now)),
            until_time: Some(nanos(expires_at)),
            ..Operation::of_kind("remember_nonce")
        };
        match self.write_one(operation).await?.1.as_str() {
            "accepted" => Ok(true),
            "replayed" => Ok(false),
            other => Err(unexpected(other)),
        }
    }

    async fn forget_expired_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM nonces WHERE expires_at <= $1")
            .bind(nanos(now))
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn primary_account(&self) -> Result<Option<Account>, StoreError> {
        let row =
            sqlx::query("SELECT id, created_at FROM accounts ORDER BY created_at, id LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        row.map(|row| {
            Ok(Account {
                id: as_u64(row.try_get("id").map_err(backend)?),
                created_at: time_column(&row, "created_at")?,
            })
        })
        .transpose()
    }

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
            ..Operation::of_kind("create_user")
        };
        match self.write_one(operation.audited(audit)).await?.1.as_str() {
            "created" => Ok(user),
            "user_name_taken" => Err(StoreError::UserNameTaken),
            "identifier_taken" => Err(StoreError::IdentifierTaken),
            other => Err(unexpected(other)),
        }
    }

    async fn user(&self, account_id: u64, uin: u64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 AND uin = $2"
        ))
        .bind(as_i64(account_id))
        .bind(as_i64(uin))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    async fn list_users(&self, account_id: u64) -> Result<Vec<User>, StoreError> {
        iam::list_users(&self.pool, account_id).await
    }

    async fn delete_user(
        &self,
        account_id: u64,
        uin: u64,
        options: DeleteUserOptions,
        audit: AuditEvent,
    ) -> Result<Vec<String>, StoreError> {
        iam::delete_user(self.begin().await?, account_id, uin, options, &audit).await
    }

    async fn create_custom_policy(
        &self,
        policy: CustomPolicy,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<CustomPolicy, StoreError> {
        iam::create_custom_policy(self.begin().await?, &policy, limit, &audit).await?;
        Ok(policy)
    }

    async fn custom_policy_by_name(
        &self,
        account_id: u64,
        name: &str,
    ) -> Result<Option<CustomPolicy>, StoreError> {
        iam::policy_by_name(&self.pool, account_id, name).await
    }

    async fn custom_policy_by_id(
        &self,
        account_id: u64,
        id: u64,
    ) -> Result<Option<CustomPolicy>, StoreError> {
        iam::policy_by_id(&self.pool, account_id, id).await
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
            policy_name,
            attached_at,
            limit,
        };
        iam::attach_policy(self.begin().await?, &attachment, &audit).await
    }

    async fn delete_custom_policy(
        &self,
        account_id: u64,
        name: &str,
        detach: bool,
        audit: AuditEvent,
    ) -> Result<Vec<u64>, StoreError> {
        iam::delete_custom_policy(self.begin().await?, account_id, name, detach, &audit).await
    }

    async fn list_custom_policies(
        &self,
        account_id: u64,
    ) -> Result<Vec<(CustomPolicy, u64)>, StoreError> {
        iam::list_custom_policies(&self.pool, account_id).await
    }

    async fn policy_attachment_count(
        &self,
        account_id: u64,
        policy_type: PolicyType,
        name: &str,
    ) -> Result<u64, StoreError> {
        iam::policy_attachment_count(&self.pool, account_id, policy_type, name).await
    }

    async fn detach_policy(
        &self,
        account_id: u64,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        iam::detach_policy(
            self.begin().await?,
            account_id,
            uin,
            policy_type,
            policy_name,
            &audit,
        )
        .await
    }

    async fn user_policies(
        &self,
        account_id: u64,
        uin: u64,
    ) -> Result<Vec<PolicyAttachment>, StoreError> {
        iam::user_policies(&self.pool, account_id, uin).await
    }

    async fn create_access_key_within_quota(
        &self,
        key: NewAccessKey,
        quota: u32,
        audit: AuditEvent,
    ) -> Result<AccessKey, StoreError> {
        let operation = Operation {
            id: Some(key.id.clone()),
            account_id: Some(as_i64(key.account_id)),
            uin: Some(as_i64(key.owner_uin)),
            family: Some(key.family.as_str().to_owned()),
            description: key.description.clone(),
            secret_key_version: Some(i64::from(key.sealed_secret.key_version)),
            secret_ciphertext: Some(key.sealed_secret.ciphertext.clone()),
            at_time: Some(nanos(key.created_at)),
            quota: Some(i64::from(quota)),
            ..Operation::of_kind("create_access_key")
        };
        match self.write_one(operation.audited(audit)).await?.1.as_str() {
            "created" => Ok(key.into_active_key()),
            "user_not_found" => Err(StoreError::UserNotFound),
            "quota_exceeded" => Err(StoreError::AccessKeyQuotaExceeded { limit: quota }),
            "identifier_taken" => Err(StoreError::IdentifierTaken),
            other => Err(unexpected(other)),
        }
    }

    async fn access_key(&self, key_id: &str) -> Result<Option<AccessKey>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE id = $1"
        ))
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|row| access_key_from_row(&row)).transpose()
    }

    async fn list_access_keys(
        &self,
        account_id: u64,
        owner_uin: u64,
        family: KeyFamily,
    ) -> Result<Vec<AccessKey>, StoreError> {
        self.listings
            .submit((as_i64(account_id), as_i64(owner_uin), family))
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
        let operation = Operation {
            id: Some(key_id.to_owned()),
            account_id: Some(as_i64(account_id)),
            uin: Some(as_i64(owner_uin)),
            status: Some(status.as_str().to_owned()),
            at_time: Some(nanos(now)),
            ..Operation::of_kind("set_access_key_status")
        };
        let (row, outcome) = self.write_one(operation.audited(audit)).await?;
        match outcome.as_str() {
            "updated" => access_key_from_row(&row),
            "not_found" => Err(StoreError::AccessKeyNotFound),
            "owner_mismatch" => Err(StoreError::OwnerMismatch),
            other => Err(unexpected(other)),
        }
    }

    async fn delete_access_key(
        &self,
        account_id: u64,
        owner_uin: u64,
        key_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let operation = Operation {
            id: Some(key_id.to_owned()),
            account_id: Some(as_i64(account_id)),
            uin: Some(as_i64(owner_uin)),
            ..Operation::of_kind("delete_access_key")
        };
        match self.write_one(operation.audited(audit)).await?.1.as_str() {
            "deleted" => Ok(()),
            "not_found" => Err(StoreError::AccessKeyNotFound),
            "owner_mismatch" => Err(StoreError::OwnerMismatch),
            other => Err(unexpected(other)),
        }
    }

    async fn record_key_usage(&self, usage: Vec<KeyUsage>) -> Result<(), StoreError> {
        if usage.is_empty() {
            return Ok(());
        }
        let job = usage
            .into_iter()
            .map(|record| Operation {
                id: Some(record.key_id),
                at_time: Some(nanos(record.used_at)),
                product: Some(record.product),
                action: Some(record.action),
                source_address: Some(record.source_address),
                ..Operation::of_kind("record_key_usage")
            })
            .collect();
        for row in self.write(job).await? {
            match outcome(&row)?.as_str() {
                "recorded" => {}
                other => return Err(unexpected(other)),
            }
        }
        Ok(())
    }

    async fn key_usage(&self, key_ids: &[String]) -> Result<Vec<KeyUsage>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, used_at, product, action, source_address FROM key_usage \
             WHERE key_id = ANY($1)",
        )
        .bind(key_ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(KeyUsage {
                    key_id: row.try_get("key_id").map_err(backend)?,
                    used_at: time_column(row, "used_at")?,
                    product: row.try_get("product").map_err(backend)?,
                    action: row.try_get("action").map_err(backend)?,
                    source_address: row.try_get("source_address").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn create_api_key_within_limit(
        &self,
        key: ApiKey,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let operation = Operation {
            id: Some(key.id.clone()),
            account_id: Some(as_i64(key.account_id)),
            key_type: Some(key.key_type.as_str().to_owned()),
            secret_name: Some(key.secret_name.clone()),
            enabled: Some(key.enabled),
            tags: Some(tags_to_json(&key.tags)),
            secret_key_version: Some(i64::from(key.sealed_secret.key_version)),
            secret_ciphertext: Some(key.sealed_secret.ciphertext.clone()),
            at_time: Some(nanos(key.created_at)),
            updated_at_time: Some(nanos(key.updated_at)),
            quota: Some(i64::from(limit)),
            ..Operation::of_kind("create_api_key")
        };
        match self.write_one(operation.audited(audit)).await?.1.as_str() {
            "created" => Ok(key),
            "already_exists" => Err(StoreError::ApiKeyAlreadyExists),
            "limit_exceeded" => Err(StoreError::ApiKeyLimitExceeded { limit }),
            other => Err(unexpected(other)),
        }
    }

    async fn api_key(&self, account_id: u64, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE account_id = $1 AND id = $2"
        ))
        .bind(as_i64(account_id))
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|row| api_key_from_row(&row)).transpose()
    }

    async fn list_api_keys(&self, account_id: u64) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE account_id = $1 ORDER BY created_at, id"
        ))
        .bind(as_i64(account_id))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn update_api_key(
        &self,
        account_id: u64,
        key_id: &str,
        change: ApiKeyChange,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let target = Operation {
            id: Some(key_id.to_owned()),
            account_id: Some(as_i64(account_id)),
            at_time: Some(nanos(now)),
            ..Operation::default()
        };
        let operation = match change {
            ApiKeyChange::SetEnabled(enabled) => Operation {
                enabled: Some(enabled),
                ..Operation {
                    kind: "set_api_key_enabled".to_owned(),
                    ..target
                }
            },
            ApiKeyChange::ReplaceSecret(sealed) => Operation {
                secret_key_version: Some(i64::from(sealed.key_version)),
                secret_ciphertext: Some(sealed.ciphertext),
                ..Operation {
                    kind: "replace_api_key_secret".to_owned(),
                    ..target
                }
            },
        };
        let (row, outcome) = self.write_one(operation.audited(audit)).await?;
        match outcome.as_str() {
            "updated" => api_key_from_row(&row),
            "not_found" => Err(StoreError::ApiKeyNotFound),
            other => Err(unexpected(other)),
        }
    }

    async fn delete_api_key(
        &self,
        account_id: u64,
        key_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        let operation = Operation {
            id: Some(key_id.to_owned()),
            account_id: Some(as_i64(account_id)),
            ..Operation::of_kind("delete_api_key")
        };
        match self.write_one(operation.audited(audit)).await?.1.as_str() {
            "deleted" => Ok(()),
            "not_found" => Err(StoreError::ApiKeyNotFound),
            other => Err(unexpected(other)),
        }
    }

    async fn append_audit_events(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        // Buffered events (refusals, terminal sessions) are flushed in the background, not on
        // a request's path: one plain transaction, which also writes their detail (the batch
        // function's audit insert takes none).
        let mut transaction = self.begin().await?;
        for event in &events {
            insert_audit(&mut transaction, event).await?;
        }
        commit(transaction).await
    }

    async fn prune_audit_events(
        &self,
        before: OffsetDateTime,
        audit_event: PruneAudit,
    ) -> Result<u64, StoreError> {
        audit::prune(self.begin().await?, before, audit_event).await
    }

    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT sequence, time, request_id, account_id, principal_uin, key_id, product, \
             action, target, outcome, source_address, user_agent, detail, decision, \
             decision_statement FROM audit_events WHERE sequence > $1 ORDER BY sequence \
             LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(AuditRecord {
                    sequence: row.try_get("sequence").map_err(backend)?,
                    event: AuditEvent {
                        time: time_column(row, "time")?,
                        request_id: row.try_get("request_id").map_err(backend)?,
                        account_id: row
                            .try_get::<Option<i64>, _>("account_id")
                            .map_err(backend)?
                            .map(as_u64),
                        principal_uin: row
                            .try_get::<Option<i64>, _>("principal_uin")
                            .map_err(backend)?
                            .map(as_u64),
                        key_id: row.try_get("key_id").map_err(backend)?,
                        product: row.try_get("product").map_err(backend)?,
                        action: row.try_get("action").map_err(backend)?,
                        target: row.try_get("target").map_err(backend)?,
                        outcome: row.try_get("outcome").map_err(backend)?,
                        source_address: row.try_get("source_address").map_err(backend)?,
                        user_agent: row.try_get("user_agent").map_err(backend)?,
                        detail: row.try_get("detail").map_err(backend)?,
                        authorization: authorization_from_columns(
                            row.try_get("decision").map_err(backend)?,
                            row.try_get("decision_statement").map_err(backend)?,
                        ),
                    },
                })
            })
            .collect()
    }

    async fn user_by_name(&self, account_id: u64, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 AND name = $2"
        ))
        .bind(as_i64(account_id))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    async fn create_activation_code(
        &self,
        code: ActivationCode,
        audit: AuditEvent,
    ) -> Result<ActivationCode, StoreError> {
        activation::insert(self.begin().await?, &code, &audit).await?;
        Ok(code)
    }

    async fn activation_code(&self, code_id: &str) -> Result<Option<ActivationCode>, StoreError> {
        activation::find(&self.pool, code_id).await
    }

    async fn list_activation_codes(
        &self,
        account_id: u64,
    ) -> Result<Vec<ActivationCode>, StoreError> {
        activation::list(&self.pool, account_id).await
    }

    async fn disable_activation_code(
        &self,
        account_id: u64,
        code_id: &str,
        audit: AuditEvent,
    ) -> Result<ActivationCode, StoreError> {
        activation::disable(self.begin().await?, account_id, code_id, &audit).await
    }

    async fn delete_activation_code(
        &self,
        account_id: u64,
        code_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        activation::delete(self.begin().await?, account_id, code_id, &audit).await
    }

    async fn redeem_activation_code(
        &self,
        server: SourceServer,
        audit: AuditEvent,
    ) -> Result<Redemption, StoreError> {
        activation::redeem(self.begin().await?, &server, &audit).await
    }

    async fn list_source_servers(
        &self,
        account_id: u64,
        activation_code_id: Option<&str>,
    ) -> Result<Vec<SourceServer>, StoreError> {
        activation::source_servers(&self.pool, account_id, activation_code_id).await
    }

    async fn create_eas_service(
        &self,
        service: EasService,
        audit: AuditEvent,
    ) -> Result<EasService, StoreError> {
        eas::insert_service(self.begin().await?, &service, &audit).await?;
        Ok(service)
    }

    async fn eas_service(
        &self,
        account_id: u64,
        cluster: &str,
        name: &str,
    ) -> Result<Option<EasService>, StoreError> {
        eas::find_service(&self.pool, account_id, cluster, name).await
    }

    async fn list_eas_services(&self, account_id: u64) -> Result<Vec<EasService>, StoreError> {
        eas::list_services(&self.pool, account_id).await
    }

    async fn delete_eas_service(
        &self,
        account_id: u64,
        cluster: &str,
        name: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        eas::delete_service(self.begin().await?, account_id, cluster, name, &audit).await
    }

    async fn add_eas_instance(
        &self,
        instance: EasInstance,
        audit: AuditEvent,
    ) -> Result<EasInstance, StoreError> {
        eas::insert_instance(self.begin().await?, &instance, &audit).await?;
        Ok(instance)
    }

    async fn eas_instance(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
        name: &str,
    ) -> Result<Option<EasInstance>, StoreError> {
        eas::find_instance(&self.pool, account_id, cluster, service, name).await
    }

    async fn list_eas_instances(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
    ) -> Result<Vec<EasInstance>, StoreError> {
        eas::list_instances(&self.pool, account_id, cluster, service).await
    }

    async fn remove_eas_instance(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
        name: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        eas::remove_instance(
            self.begin().await?,
            account_id,
            cluster,
            service,
            name,
            &audit,
        )
        .await
    }

    async fn create_instance_tokens(
        &self,
        tokens: Vec<InstanceToken>,
        audit: AuditEvent,
    ) -> Result<(), StoreError> {
        eas::insert_tokens(self.begin().await?, &tokens, &audit).await
    }

    async fn instance_token(&self, token_hash: &[u8]) -> Result<Option<InstanceToken>, StoreError> {
        eas::find_token(&self.pool, token_hash).await
    }

    async fn burn_instance_token(
        &self,
        token_hash: &[u8],
        purpose: InstanceTokenPurpose,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> Result<InstanceToken, StoreError> {
        eas::burn_token(self.begin().await?, token_hash, purpose, now, &audit).await
    }

    async fn forget_expired_instance_tokens(
        &self,
        expired_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        eas::forget_expired_tokens(&self.pool, expired_before).await
    }
}
