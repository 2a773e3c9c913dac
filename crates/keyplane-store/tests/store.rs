//! The storage test binary for `keyplane-store`: a conformance suite written once against the
//! `Store` trait (`conformance`), run against every backend through one factory per backend
//! (`sqlite` now; `postgres` reports itself skipped until that backend exists), plus the
//! checks that only make sense for one backend (SQLite durability across close and reopen, and
//! the append-only audit table).

#[path = "store/conformance.rs"]
mod conformance;
#[path = "store/listener.rs"]
mod listener;
#[path = "store/postgres.rs"]
mod postgres;
#[path = "store/postgres_batch.rs"]
mod postgres_batch;
#[path = "store/sqlite.rs"]
mod sqlite;
#[path = "store/support.rs"]
mod support;
