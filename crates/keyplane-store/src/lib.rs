//! Storage backends for Keyplane's [`keyplane_core::Store`] trait. Only this crate knows SQL.
//! SQLite (embedded, the default) lives in [`sqlite`], PostgreSQL (for several nodes on one
//! database) in [`postgres`]; each backend owns its migrations, which are compiled into the
//! binary, and both store the same values the same way (`codec`).

mod codec;
pub mod postgres;
pub mod sqlite;

pub use postgres::{ListenerProbe, PostgresStore, StoreChange};
pub use sqlite::SqliteStore;
