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
//!
//! Each aggregate's trait is implemented in its own module, with the column list and the row
//! decoder of each of its entities; this module holds the connection, its construction and
//! what the aggregates share.

mod access_keys;
mod activation_codes;
mod api_keys;
mod audit;
mod batcher;
mod changes;
mod eas;
mod installation;
mod kept;
mod listener;
mod migrations;
mod nonces;
mod operations;
mod policies;
mod protocol;
mod users;

use std::sync::Arc;

use keyplane_core::model::AccessKey;
use keyplane_core::store::StoreError;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgQueryResult, PgRow};
use sqlx::query::Query;
use sqlx::{Connection, PgExecutor, Postgres, Row, Transaction};
use time::OffsetDateTime;

use access_keys::{list_access_keys_together, KeyListing, DEFAULT_LISTING_LIMITS};
pub use batcher::BatchLimits;
use batcher::Batcher;
pub use changes::StoreChange;
use kept::KeptConnections;
pub use listener::{ListenerProbe, PROBE_CHANNEL};
use operations::job_weight;
use protocol::{single, Job, JobRows, Operation, Outcome};

use crate::codec::time_from_nanos;

/// The channel on which access-key and permission changes are announced to every node (see
/// [`StoreChange`] for the payloads).
pub const KEY_CHANGES_CHANNEL: &str = "keyplane_key_changes";

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
        migrations::migrate(&pool).await?;
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
        migrations::migrate(&self.pool).await
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

    /// Applies a use case of one operation and returns its result row and outcome.
    async fn write_one(&self, operation: Operation) -> Result<(PgRow, Outcome), StoreError> {
        let row = single(self.write(vec![operation]).await?)?;
        let outcome = Outcome::of(&row)?;
        Ok((row, outcome))
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }
}

async fn commit(transaction: Transaction<'_, Postgres>) -> Result<(), StoreError> {
    transaction.commit().await.map_err(backend)
}

/// The row `query` selects, decoded, if there is one.
async fn select_one<'query, T>(
    executor: impl PgExecutor<'query>,
    query: Query<'query, Postgres, PgArguments>,
    decode: impl FnOnce(&PgRow) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let row = query.fetch_optional(executor).await.map_err(backend)?;
    row.as_ref().map(decode).transpose()
}

/// Every row `query` selects, decoded, in order.
async fn select_all<'query, T>(
    executor: impl PgExecutor<'query>,
    query: Query<'query, Postgres, PgArguments>,
    decode: impl FnMut(&PgRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let rows = query.fetch_all(executor).await.map_err(backend)?;
    rows.iter().map(decode).collect()
}

/// The result of an INSERT as a store outcome: `taken` when it hit a unique constraint.
fn inserted(
    result: Result<PgQueryResult, sqlx::Error>,
    taken: StoreError,
) -> Result<(), StoreError> {
    match result {
        Ok(_) => Ok(()),
        Err(error) if violated_constraint(&error).is_some() => Err(taken),
        Err(error) => Err(backend(error)),
    }
}
