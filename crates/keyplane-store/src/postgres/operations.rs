//! The write side of the PostgreSQL store: every write use case becomes one or more
//! [`Operation`]s (the `keyplane_operation` type of migration 0005), a use case's operations
//! form one job, and the group-commit batcher applies many jobs with one call of
//! `keyplane_apply_operations`: one statement, one round trip and one durable commit
//! (`synchronous_commit` as the server has it) for the whole batch. Each operation gets its own
//! result row, in order; refusals (quota, collisions, unknown keys) are outcomes decided inside
//! the function, so they never abort the others.
//!
//! When the database rejects a batch as a whole (an error, so nothing of it was applied), a
//! deadlock or serialisation failure is retried, and anything else is replayed one job per call
//! so that only the job that caused it fails. A failure with an unknown outcome (the connection
//! broke) is reported to every job of the batch, as a single use case would report it.

use std::sync::Arc;

use keyplane_core::store::StoreError;
use sqlx::postgres::{PgConnection, PgRow};

use super::batcher::BatchLimits;
use super::kept::{still_usable_after, KeptConnections};
use super::protocol::{Job, JobRows, Operation};

/// How many times a batch is tried when the database picks it as a deadlock victim (batches
/// take their row locks in one order, but a unique-index wait on a name two batches insert can
/// still cross) or fails it for serialisation (the function does, when an access-key id it
/// found free is taken by another transaction before its insertion).
const ATTEMPTS_PER_BATCH: usize = 5;

/// Batch limits for writes: one batch in flight (the next one forms while it runs and
/// commits), at most 1,024 operations per batch. Measured on two cores, two in flight made
/// batches half as large and cost about a quarter more database CPU per operation for no more
/// throughput; several nodes still have a batch in flight each.
pub const DEFAULT_WRITE_LIMITS: BatchLimits = BatchLimits {
    in_flight: 1,
    max_weight: 1_024,
};

/// The batcher's weight of a job: its number of operations.
pub(crate) fn job_weight(job: &Job) -> usize {
    job.len()
}

/// Why a call of `keyplane_apply_operations` failed.
enum Failure {
    /// The database refused the statement: nothing of the batch was applied.
    Refused(sqlx::Error),
    /// Anything else (the connection broke, a row could not be read): the outcome is unknown.
    Unknown(String),
}

impl Failure {
    fn into_store_error(self) -> StoreError {
        match self {
            Failure::Refused(error) => StoreError::Backend(error.to_string()),
            Failure::Unknown(description) => StoreError::Backend(description),
        }
    }
}

/// Whether the database refused a statement for a reason that trying again can cure.
fn is_transient(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Database(database)
            if matches!(database.code().as_deref(), Some("40P01" | "40001"))
    )
}

/// One call of `keyplane_apply_operations` on `connection`, tried again while the database
/// picks it as a deadlock victim or fails it for serialisation.
async fn call(
    connection: &mut PgConnection,
    operations: &[Operation],
) -> Result<Vec<PgRow>, Failure> {
    let mut attempt = 1;
    loop {
        let result = sqlx::query("SELECT * FROM keyplane_apply_operations($1)")
            .bind(operations)
            .fetch_all(&mut *connection)
            .await;
        match result {
            Ok(rows) if rows.len() == operations.len() => return Ok(rows),
            Ok(rows) => {
                return Err(Failure::Unknown(format!(
                    "{} operations were answered with {} rows",
                    operations.len(),
                    rows.len()
                )))
            }
            Err(error) if is_transient(&error) && attempt < ATTEMPTS_PER_BATCH => {
                tracing::debug!(%error, attempt, "a write batch is tried again");
                attempt += 1;
            }
            Err(error) if still_usable_after(&error) => return Err(Failure::Refused(error)),
            Err(error) => return Err(Failure::Unknown(error.to_string())),
        }
    }
}

/// Applies a batch of jobs in one transaction and answers each with its own rows.
pub(crate) async fn apply(
    connections: Arc<KeptConnections>,
    jobs: Vec<Job>,
) -> Vec<Result<JobRows, StoreError>> {
    let lengths: Vec<usize> = jobs.iter().map(Vec::len).collect();
    let operations: Vec<Operation> = jobs.into_iter().flatten().collect();
    let mut connection = match connections.take().await {
        Ok(connection) => connection,
        Err(error) => {
            let error = StoreError::Backend(error.to_string());
            return lengths.iter().map(|_| Err(error.clone())).collect();
        }
    };
    let mut healthy = true;
    let results = match call(&mut connection, &operations).await {
        Ok(rows) => split(rows, &lengths),
        Err(Failure::Refused(error)) if lengths.len() > 1 => {
            tracing::warn!(
                %error,
                jobs = lengths.len(),
                "a write batch was refused; replaying its use cases one by one"
            );
            let mut results = Vec::with_capacity(lengths.len());
            let mut start = 0;
            for length in lengths {
                let job = &operations[start..start + length];
                start += length;
                let result = if healthy {
                    call(&mut connection, job).await
                } else {
                    Err(Failure::Unknown(
                        "the connection broke during the replay".to_owned(),
                    ))
                };
                healthy &= !matches!(result, Err(Failure::Unknown(_)));
                results.push(result.map_err(Failure::into_store_error));
            }
            results
        }
        Err(failure) => {
            healthy = matches!(failure, Failure::Refused(_));
            let error = failure.into_store_error();
            lengths.iter().map(|_| Err(error.clone())).collect()
        }
    };
    if healthy {
        connections.keep(connection);
    }
    results
}

/// Splits a batch's rows into the rows of each job.
fn split(rows: Vec<PgRow>, lengths: &[usize]) -> Vec<Result<JobRows, StoreError>> {
    let mut rows = rows.into_iter();
    lengths
        .iter()
        .map(|length| Ok(rows.by_ref().take(*length).collect()))
        .collect()
}
