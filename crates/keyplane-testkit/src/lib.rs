//! Keyplane's one in-process test harness, shared by the test binaries as a dev-dependency:
//!
//! - [`in_process`]: an [`Authority`](keyplane_core::Authority) over a real SQLite store in a
//!   temporary directory and the production credential factory, with the configurations the
//!   tests run under and the seeding they need (an account with a fixed root key, users,
//!   access keys);
//! - [`vectors`]: the identities every captured SDK vector (`vectors/`) was signed for;
//! - [`signing`]: credentials and request signing as the SDKs sign (TC3, ACS3);
//! - [`mutation`]: the one-byte mutations of signed requests.
//!
//! The dialects are not built here: a test builds the one it drives over
//! [`InProcess::authority`](in_process::InProcess::authority), so that this crate does not
//! follow their constructors. The crate's own test, `tests/tidy.rs`, checks the workspace's
//! invariants.

pub mod in_process;
pub mod mutation;
pub mod signing;
pub mod vectors;

pub use in_process::InProcess;
