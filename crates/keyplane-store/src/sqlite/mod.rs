//! The SQLite implementation of the Store trait: one database file in WAL mode with durable
//! commits (`synchronous = FULL`). Writes go through a single writer thread in group commits
//! (see `worker`), so quota checks and inserts are serialised and atomic; reads use a pool of
//! read-only connections. Each aggregate's trait is implemented in its own module, with the
//! column list and the row decoder of each of its entities.

mod access_keys;
mod activation_codes;
mod api_keys;
mod audit;
mod eas;
mod installation;
mod migrations;
mod nonces;
mod policies;
mod users;
mod worker;

use std::path::Path;

use keyplane_core::store::StoreError;
use rusqlite::{Connection, OptionalExtension, Params, Row};
use time::OffsetDateTime;

pub use migrations::SCHEMA_VERSION;
use worker::{backend, open_connection, Connections};

use crate::codec::time_from_nanos;

/// Keyplane's store on one SQLite file.
pub struct SqliteStore {
    connections: Connections,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = open_connection(path, false)?;
        migrations::migrate(&mut connection)?;
        Ok(Self {
            connections: Connections::start(path.to_path_buf(), connection),
        })
    }

    /// Finishes queued writes and stops the writer thread. Later writes fail.
    pub fn close(&self) {
        self.connections.close();
    }
}

/// A stored time, as a column conversion.
fn from_nanos(value: i64) -> rusqlite::Result<OffsetDateTime> {
    time_from_nanos(value).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, error.into())
    })
}

/// A column conversion failure with `message`.
fn conversion_error(message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, message.into())
}

/// Whether a statement failed on a primary-key or unique constraint.
fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// The row `sql` selects with `parameters`, decoded, if there is one.
fn select_one<T>(
    connection: &Connection,
    sql: &str,
    parameters: impl Params,
    decode: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.query_row(parameters, decode).optional())
        .map_err(backend)
}

/// Every row `sql` selects with `parameters`, decoded, in order.
fn select_all<T>(
    connection: &Connection,
    sql: &str,
    parameters: impl Params,
    decode: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(backend)?;
    let rows = statement.query_map(parameters, decode).map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

/// The result of an INSERT as a store outcome: `taken` when it hit a primary-key or unique
/// constraint.
fn inserted(result: rusqlite::Result<usize>, taken: StoreError) -> Result<(), StoreError> {
    match result {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => Err(taken),
        Err(error) => Err(backend(error)),
    }
}
