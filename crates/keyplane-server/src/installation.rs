//! A Keyplane installation: its store (SQLite in the data directory, or a PostgreSQL database
//! shared by several nodes), the master key that seals its secrets, and the core `Authority`
//! wired over them.
//!
//! The master key comes from `KEYPLANE_MASTER_KEY` (the key text), or from the master key file
//! (`--master-key-file`, default `<data-dir>/master.key`, mode 0600). On a fresh installation a
//! new key is written to that file first. The store keeps the check value of the key its data
//! was sealed with: a node holding another key refuses to start instead of failing later on
//! every secret. A key file others may read is refused, and the environment variable is
//! taken out of the environment once read (see [`crate::secrets`]).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use keyplane_core::authority::InitializedAccount;
use keyplane_core::{Authority, AuthorityConfig, Clock, Store};
use keyplane_crypto::seal::{Keyring, MasterKey};
use keyplane_store::{PostgresStore, SqliteStore};
use serde_json::json;

use crate::config::DataConfig;
use crate::factory::SealingFactory;

pub use crate::secrets::MASTER_KEY_VARIABLE;

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

/// The store behind an installation.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>),
}

impl Backend {
    /// Opens the store the configuration names, applying pending migrations.
    pub async fn open(data: &DataConfig, create: bool) -> anyhow::Result<Self> {
        match &data.database_url {
            Some(url) => Ok(Backend::Postgres(Arc::new(
                PostgresStore::connect(url, &data.pool)
                    .await
                    .map_err(|error| anyhow::anyhow!("opening the PostgreSQL database: {error}"))?,
            ))),
            None => {
                if create {
                    create_data_dir(&data.data_dir)?;
                    create_private_file(&data.database_path())?;
                } else if !data.database_path().exists() {
                    bail!(
                        "{} is not an initialised Keyplane data directory (run `keyplane init --data-dir {}`)",
                        data.data_dir.display(),
                        data.data_dir.display()
                    );
                }
                Ok(Backend::Sqlite(Arc::new(
                    SqliteStore::open(&data.database_path())
                        .map_err(|error| anyhow::anyhow!("opening the database: {error}"))?,
                )))
            }
        }
    }

    /// The store, as the core sees it.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(store) => store.clone(),
            Backend::Postgres(store) => store.clone(),
        }
    }

    /// Finishes queued writes and closes connections.
    pub async fn close(&self) {
        match self {
            Backend::Sqlite(store) => store.close(),
            Backend::Postgres(store) => store.close().await,
        }
    }
}

/// An opened installation.
pub struct Installation {
    pub authority: Arc<Authority>,
    pub backend: Backend,
}

fn create_data_dir(path: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("creating the data directory {}", path.display()))
}

/// Creates `path` empty with mode 0600 unless it exists, so that SQLite (which gives its
/// journal files the database file's mode) never makes the database readable by others.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

/// The master key this node was given, if any: the environment variable, else the file.
fn provided_master_key(data: &DataConfig) -> anyhow::Result<Option<MasterKey>> {
    if let Some(text) = crate::secrets::master_key_text() {
        let text = text
            .into_string()
            .map_err(|_| anyhow::anyhow!("{MASTER_KEY_VARIABLE} is not valid UTF-8"))?;
        return MasterKey::decode(&text)
            .map(Some)
            .with_context(|| format!("{MASTER_KEY_VARIABLE} is not a Keyplane master key"));
    }
    let path = &data.master_key_file;
    if !path.exists() {
        return Ok(None);
    }
    crate::secrets::check_master_key_file_mode(path)?;
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading the master key file {}", path.display()))?;
    MasterKey::decode(&text).map(Some).with_context(|| {
        format!(
            "the master key file {} is not a Keyplane master key",
            path.display()
        )
    })
}

/// Writes a new master key file (0600, never overwriting an existing one).
fn write_master_key(path: &Path, key: &MasterKey) -> anyhow::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        create_data_dir(parent)?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the master key file {}", path.display()))?;
    file.write_all(key.encode().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

/// The installation's master key, checked against the check value the store keeps. With
/// `create`, a fresh installation gets a new key, written before it is claimed.
async fn master_key(
    data: &DataConfig,
    store: &dyn Store,
    create: bool,
) -> anyhow::Result<MasterKey> {
    let (key, written_here) = match provided_master_key(data)? {
        Some(key) => (key, false),
        None if create => {
            let key = MasterKey::generate(1);
            write_master_key(&data.master_key_file, &key)?;
            (key, true)
        }
        None => bail!(
            "no master key: {} does not exist and {MASTER_KEY_VARIABLE} is not set",
            data.master_key_file.display()
        ),
    };
    let check_value = key.check_value();
    let stored = store
        .claim_master_key_check(&check_value)
        .await
        .map_err(|error| anyhow::anyhow!("reading the master key check value: {error}"))?;
    if stored != check_value {
        if written_here {
            let _ = fs::remove_file(&data.master_key_file);
        }
        bail!(
            "this node's master key cannot open this installation's data (its check value differs \
             from the one stored in the database); give every node the same key with \
             --master-key-file or {MASTER_KEY_VARIABLE}"
        );
    }
    Ok(key)
}

impl Installation {
    /// Opens the installation; with `create`, makes the data directory, the SQLite database
    /// and the master key as needed.
    pub async fn open(
        data: &DataConfig,
        config: AuthorityConfig,
        create: bool,
    ) -> anyhow::Result<Self> {
        let backend = Backend::open(data, create).await?;
        let store = backend.store();
        let key = match master_key(data, &*store, create).await {
            Ok(key) => key,
            Err(error) => {
                backend.close().await;
                return Err(error);
            }
        };
        let factory = Arc::new(SealingFactory::new(Keyring::new(key)));
        let authority = Arc::new(Authority::new(store, factory, config));
        Ok(Self { authority, backend })
    }

    /// Whether the store holds an account yet.
    pub async fn is_initialized(&self) -> anyhow::Result<bool> {
        Ok(self
            .authority
            .store()
            .primary_account()
            .await
            .map_err(|error| anyhow::anyhow!("reading the account: {error}"))?
            .is_some())
    }

    /// Creates the account and the root's credentials.
    pub async fn initialize(&self) -> anyhow::Result<InitializedAccount> {
        self.authority
            .initialize(SystemClock.now())
            .await
            .map_err(|error| match error {
                keyplane_core::CoreError::AlreadyInitialized => {
                    anyhow::anyhow!("the installation is already initialised; nothing was changed")
                }
                other => anyhow::anyhow!("initialising: {other}"),
            })
    }

    /// Finishes queued writes and closes the store.
    pub async fn close(&self) {
        self.backend.close().await;
    }
}

/// The root credentials as `keyplane init --json` prints them.
pub fn root_credentials_json(initialized: &InitializedAccount) -> serde_json::Value {
    json!({
        "account_id": initialized.account.id.to_string(),
        "tencent": {
            "uin": initialized.root.uin,
            "secret_id": initialized.tencent_key.key.id,
            "secret_key": initialized.tencent_key.secret.expose(),
        },
        "aliyun": {
            "access_key_id": initialized.aliyun_key.key.id,
            "access_key_secret": initialized.aliyun_key.secret.expose(),
        },
    })
}
