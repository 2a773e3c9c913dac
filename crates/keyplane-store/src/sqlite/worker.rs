//! SQLite connection management: one writer thread that applies write jobs in group commits
//! (every job queued while a transaction is open joins it, each in its own savepoint, and all
//! are acknowledged only after the single durable COMMIT), and a small pool of read-only
//! connections. WAL mode lets readers run beside the writer.
//!
//! Readers keep their read transaction (their WAL snapshot) open between uses for as long as
//! this process has committed nothing since it began and for at most [`MAX_SNAPSHOT_AGE`]:
//! taking and dropping SQLite's file locks around every statement costs more than the lookup
//! itself. The writer bumps a commit sequence before it acknowledges anything and ends the
//! snapshots of idle readers, so a read never misses a write this process acknowledged, and the
//! WAL is never pinned by an idle reader. Writes by other processes (`keyplane user create`)
//! become visible within `MAX_SNAPSHOT_AGE`, or at once through [`Connections::read_fresh`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use keyplane_core::StoreError;
use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// The most jobs one group commit takes.
const MAX_JOBS_PER_COMMIT: usize = 512;
/// The longest a reader reuses one snapshot.
const MAX_SNAPSHOT_AGE: Duration = Duration::from_millis(20);
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

/// A pooled read connection and the snapshot (read transaction) it holds, if any: the commit
/// sequence it was taken at and when.
struct Reader {
    connection: Connection,
    snapshot: Option<(u64, Instant)>,
}

impl Reader {
    /// Ends the held read transaction, if any. A connection that cannot is not reusable.
    fn end_snapshot(&mut self) -> Result<(), StoreError> {
        if self.snapshot.take().is_some() {
            self.connection.execute_batch("COMMIT").map_err(backend)?;
        }
        Ok(())
    }
}

/// Idle readers, shared by readers and the writer (which ends their snapshots on commit).
type ReaderPool = Arc<Mutex<Vec<Reader>>>;

/// The writer thread and the reader pool of one database file.
pub(crate) struct Connections {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: ReaderPool,
    commit_sequence: Arc<AtomicU64>,
}

impl Connections {
    /// Starts the writer thread on an already-migrated connection.
    pub(crate) fn start(path: PathBuf, writer_connection: Connection) -> Self {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Job>();
        let readers: ReaderPool = Arc::new(Mutex::new(Vec::new()));
        let commit_sequence = Arc::new(AtomicU64::new(0));
        let committed = Committed {
            readers: readers.clone(),
            commit_sequence: commit_sequence.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("keyplane-sqlite-writer".to_owned())
            .spawn(move || {
                while let Some(first) = receiver.blocking_recv() {
                    run_group_commit(&writer_connection, first, &mut receiver, &committed);
                }
            })
            .expect("spawning the SQLite writer thread");
        Self {
            path,
            jobs: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            readers,
            commit_sequence,
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
    /// short indexed lookups served from SQLite's page cache, cheaper inline than a hop to the
    /// blocking pool; WAL means they never wait for the writer. The snapshot may be reused
    /// (see the module documentation).
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run_read(false, work)
    }

    /// Like [`Connections::read`], on a snapshot taken now: sees every write committed by any
    /// process before the call.
    pub(crate) async fn read_fresh<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run_read(true, work)
    }

    fn run_read<T>(
        &self,
        fresh: bool,
        work: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().pop();
        let mut reader = match pooled {
            Some(reader) => reader,
            None => Reader {
                connection: open_connection(&self.path, true)?,
                snapshot: None,
            },
        };
        // Read the sequence before the snapshot is taken: a commit in between only makes the
        // snapshot newer than recorded, never older.
        let sequence = self.commit_sequence.load(Ordering::Acquire);
        let reusable = !fresh
            && matches!(reader.snapshot, Some((taken_at, started))
                if taken_at == sequence && started.elapsed() < MAX_SNAPSHOT_AGE);
        if !reusable {
            reader.end_snapshot()?;
            reader.connection.execute_batch("BEGIN").map_err(backend)?;
            reader.snapshot = Some((sequence, Instant::now()));
        }
        let result = work(&reader.connection);
        if result.is_err() {
            reader.end_snapshot()?;
        }
        let mut readers = self.readers.lock();
        if readers.len() < MAX_POOLED_READERS {
            readers.push(reader);
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

/// What the writer tells readers after a commit.
struct Committed {
    readers: ReaderPool,
    commit_sequence: Arc<AtomicU64>,
}

impl Committed {
    /// Called after every successful COMMIT and before any job is acknowledged: moves the
    /// sequence on, so no reader reuses a snapshot older than this commit, and ends the
    /// snapshots of idle readers, so none pins the WAL.
    fn publish(&self) {
        self.commit_sequence.fetch_add(1, Ordering::AcqRel);
        let mut readers = self.readers.lock();
        readers.retain_mut(|reader| reader.end_snapshot().is_ok());
    }
}

fn run_group_commit(
    connection: &Connection,
    first: Job,
    receiver: &mut mpsc::UnboundedReceiver<Job>,
    committed: &Committed,
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
    } else {
        committed.publish();
    }
    for completion in completions {
        completion(commit.clone());
    }
}
