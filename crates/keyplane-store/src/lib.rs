//! Storage backends for Keyplane's [`keyplane_core::Store`] trait. Only this crate knows SQL.
//! SQLite (embedded, the default) lives in [`sqlite`]; each backend owns its migrations, which
//! are compiled into the binary.

pub mod sqlite;

pub use sqlite::SqliteStore;
