//! SQLite schema migrations, compiled into the binary and applied in order on open. The
//! applied version is kept in `PRAGMA user_version`; each migration runs in its own
//! transaction, so a crash leaves the schema at a whole version.

use keyplane_core::StoreError;
use rusqlite::Connection;

use super::worker::backend;

/// The migrations, in order: version `index + 1` is `MIGRATIONS[index]`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_initial.sql"),
    include_str!("../../migrations/sqlite/0002_settings.sql"),
    include_str!("../../migrations/sqlite/0003_nonces.sql"),
    include_str!("../../migrations/sqlite/0004_activation_codes.sql"),
    include_str!("../../migrations/sqlite/0005_eas.sql"),
    include_str!("../../migrations/sqlite/0006_audit_detail.sql"),
    include_str!("../../migrations/sqlite/0007_iam.sql"),
    include_str!("../../migrations/sqlite/0008_audit_prune.sql"),
];

/// The schema version this build expects.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`]; refuses a database from a newer build.
pub fn migrate(connection: &mut Connection) -> Result<u32, StoreError> {
    let current: u32 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(backend)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "the database schema is version {current}, newer than this build's {SCHEMA_VERSION}"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as u32 + 1;
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let applied: u32 = transaction
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(backend)?;
        if applied >= version {
            continue;
        }
        transaction.execute_batch(migration).map_err(backend)?;
        transaction
            .execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(backend)?;
        transaction.commit().map_err(backend)?;
    }
    Ok(SCHEMA_VERSION)
}
