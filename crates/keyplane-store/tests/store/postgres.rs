//! The PostgreSQL entry point of the conformance suite. There is no PostgreSQL backend in this
//! build yet (issue 3), so this only reports, on stdout and stderr, why PostgreSQL conformance
//! is skipped: `KEYPLANE_TEST_DATABASE_URL` unset (or empty), or set but no backend to run.
//!
//! Plugging the backend in: write `async fn fresh_postgres_store() -> Option<TestStore>` that
//! prints the "not set" message and returns `None` when the variable is unset, and otherwise
//! creates a fresh, empty database (or schema) for the test, opens
//! `keyplane_store::PostgresStore` on it, and returns it with a guard that drops the database;
//! then invoke `crate::conformance::conformance_tests!(fresh_postgres_store);` here, in place
//! of the test below.

/// The environment variable naming the PostgreSQL database the suite may use.
const DATABASE_URL_VARIABLE: &str = "KEYPLANE_TEST_DATABASE_URL";

/// Prints `message` where both `cargo test` and its captured output will show it.
fn report_skip(message: &str) {
    eprintln!("{message}");
    println!("{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_conformance() {
    let database_url = std::env::var_os(DATABASE_URL_VARIABLE).filter(|value| !value.is_empty());
    match database_url {
        None => {
            report_skip("PostgreSQL conformance SKIPPED: KEYPLANE_TEST_DATABASE_URL is not set")
        }
        Some(_) => report_skip(
            "PostgreSQL conformance SKIPPED: no PostgreSQL backend in this build yet (issue 3)",
        ),
    }
}
