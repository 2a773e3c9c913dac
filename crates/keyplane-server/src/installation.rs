//! A Keyplane installation on disk: the data directory (0700), the master key file (0600,
//! created on first start unless one is provided), and the SQLite store; opening one wires the
//! core `Authority` over them.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use keyplane_core::authority::InitializedAccount;
use keyplane_core::{Authority, AuthorityConfig, Clock};
use keyplane_crypto::seal::{Keyring, MasterKey};
use keyplane_store::SqliteStore;
use serde_json::json;

use crate::config::DataConfig;
use crate::factory::SealingFactory;

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

/// An opened installation.
pub struct Installation {
    pub authority: Arc<Authority>,
    pub store: Arc<SqliteStore>,
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

fn read_master_key(path: &Path) -> anyhow::Result<MasterKey> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading the master key file {}", path.display()))?;
    MasterKey::decode(&text).with_context(|| {
        format!(
            "the master key file {} is not a Keyplane master key",
            path.display()
        )
    })
}

/// Reads the master key, creating it (0600, never overwriting) when `create` is set and the
/// file does not exist.
fn master_key(path: &Path, create: bool) -> anyhow::Result<MasterKey> {
    if path.exists() || !create {
        return read_master_key(path);
    }
    let key = MasterKey::generate(1);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the master key file {}", path.display()))?;
    file.write_all(key.encode().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(key)
}

impl Installation {
    /// Opens the installation; with `create`, makes the directory and master key as needed.
    pub fn open(data: &DataConfig, config: AuthorityConfig, create: bool) -> anyhow::Result<Self> {
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
        let key = master_key(&data.master_key_file, create)?;
        let store = Arc::new(
            SqliteStore::open(&data.database_path())
                .map_err(|error| anyhow::anyhow!("opening the database: {error}"))?,
        );
        let factory = Arc::new(SealingFactory::new(Keyring::new(key)));
        let authority = Arc::new(Authority::new(store.clone(), factory, config));
        Ok(Self { authority, store })
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
                    anyhow::anyhow!(
                        "the data directory is already initialised; nothing was changed"
                    )
                }
                other => anyhow::anyhow!("initialising: {other}"),
            })
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
