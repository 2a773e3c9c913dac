//! SQLite connection management: one writer thread that applies write jobs in group commits
//! (every job queued while a transaction is open joins it, each in its own savepoint, and all
//! are acknowledged only after the single durable COMMIT), and a small pool of read-only
//! connections used from Tokio's blocking pool. WAL mode lets readers run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use keyplane_core::StoreError;
use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// The most jobs one group commit takes.
const MAX_JOBS_PER_COMMIT: usize = 512;
/// The most idle read connections kept.
const MAX_POOLED_READERS: usize = 16;
/// How long a connection waits on a lock held by another process before failing.
const BUSY_TIMEOUT_MILLISECONDS: u32 = 5_000;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A queued write: given the open transaction (or the reason there is none), runs and
/// returns what to do once the commit outcome is known.
type Job = Box<dyn FnOnce(Result<&Connection, StoreError>) -> Completion + Send>;

/// Maps a SQLite error to a backend failure (the text goes to logs only).
pub(crate) fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// Opens a connection with Keyplane's settings: WAL, durable commits, foreign keys enforced.
pub(crate) fn open_connection(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(backend)?;
    connection
        .busy_timeout(std::time::Duration::from_millis(u64::from(
            BUSY_TIMEOUT_MILLISECONDS,
        )))
        .map_err(backend)?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;",
        )
        .map_err(backend)?;
    if read_only {
        connection
            .execute_batch("PRAGMA query_only = ON;")
            .map_err(backend)?;
    }
    Ok(connection)
}

/// The writer thread and the reader pool of one database file.
pub(crate) struct Connections {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl Connections {
    /// Starts the writer thread on an already-migrated connection.
    pub(crate) fn start(path: PathBuf, writer_connection: Connection) -> Self {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("keyplane-sqlite-writer".to_owned())
            .spawn(move || {
                while let Some(first) = receiver.blocking_recv() {
                    run_group_commit(&writer_connection, first, &mut receiver);
                }
            })
            .expect("spawning the SQLite writer thread");
        Self {
            path,
            jobs: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            readers: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `work` inside the writer's transaction (in its own savepoint: an error undoes only
    /// this job) and returns its result once the transaction has durably committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let job: Job = Box::new(move |connection| {
            let result = connection.and_then(|connection| run_in_savepoint(connection, work));
            Box::new(move |commit: Result<(), StoreError>| {
                let _ = sender.send(commit.and(result));
            })
        });
        {
            let jobs = self.jobs.lock();
            let jobs = jobs
                .as_ref()
                .ok_or_else(|| StoreError::Backend("the store is closed".to_owned()))?;
            jobs.send(job)
                .map_err(|_| StoreError::Backend("the SQLite writer has stopped".to_owned()))?;
        }
        receiver
            .await
            .map_err(|_| StoreError::Backend("the SQLite writer dropped a job".to_owned()))?
    }

    /// Runs `work` on a read-only connection from the pool, on the calling thread. Reads are
    /// short indexed lookups served from SQLite's page cache (tens of microseconds), cheaper
    /// inline than a hop to the blocking pool; WAL means they never wait for the writer.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pooled = self.readers.lock().pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => open_connection(&self.path, true)?,
        };
        let result = work(&connection);
        let mut readers = self.readers.lock();
        if readers.len() < MAX_POOLED_READERS {
            readers.push(connection);
        }
        result
    }

    /// Stops accepting writes, lets the writer finish what is queued, and waits for it.
    pub(crate) fn close(&self) {
        self.jobs.lock().take();
        if let Some(writer) = self.writer.lock().take() {
            let _ = writer.join();
        }
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        self.close();
    }
}

fn run_in_savepoint<T>(
    connection: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    connection.execute_batch("SAVEPOINT job").map_err(backend)?;
    let result = work(connection);
    let end = if result.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    connection.execute_batch(end).map_err(backend)?;
    result
}

fn run_group_commit(
    connection: &Connection,
    first: Job,
    receiver: &mut mpsc::UnboundedReceiver<Job>,
) {
    if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
        first(Err(backend(error)))(Ok(()));
        return;
    }
    let mut completions = vec![first(Ok(connection))];
    while completions.len() < MAX_JOBS_PER_COMMIT {
        match receiver.try_recv() {
            Ok(job) => completions.push(job(Ok(connection))),
            Err(_) => break,
        }
    }
    let commit = connection.execute_batch("COMMIT").map_err(backend);
    if commit.is_err() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    for completion in completions {
        completion(commit.clone());
    }
}
