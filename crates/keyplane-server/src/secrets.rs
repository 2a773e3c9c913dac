//! Keyplane's own secrets outside the store: taking the master key and the database URL out of
//! the process environment once read, refusing a master key file others may read, and
//! handing the root credentials of a new installation to whoever started it without leaving
//! them in a log.
//!
//! - **Environment.** `KEYPLANE_MASTER_KEY` and `KEYPLANE_DATABASE_URL` are read once, at the
//!   very start of `main` (while the process has a single thread), kept in memory, and
//!   removed from the environment: their values are overwritten in place first, so that
//!   neither `/proc/<pid>/environ` (which shows the environment block the process was started
//!   with) nor any program the server starts can read them.
//! - **Master key file.** Like ssh with a private key, Keyplane refuses a master key file
//!   whose mode lets its group or others read or write it (`mode & 0o077 != 0`).
//! - **Root credentials.** `serve` on a fresh installation prints them only when its standard
//!   output is an interactive terminal; otherwise (a service manager, `docker logs`, a pipe)
//!   it writes them to `<data-dir>/root-credentials.json` (mode 0600) and logs only that
//!   path. `keyplane init --json` is the way to receive them on standard output in a script.

use std::ffi::{c_char, CStr, OsString};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{bail, Context};

/// The environment variable that may carry the master key text itself.
pub const MASTER_KEY_VARIABLE: &str = "KEYPLANE_MASTER_KEY";
/// The environment variable that may carry the PostgreSQL URL (with its password).
pub const DATABASE_URL_VARIABLE: &str = "KEYPLANE_DATABASE_URL";
/// Where `serve` writes the root credentials when its output is not a terminal.
pub const ROOT_CREDENTIALS_FILE: &str = "root-credentials.json";

/// The master key text as the environment gave it, taken once.
static MASTER_KEY_TEXT: OnceLock<Option<OsString>> = OnceLock::new();

extern "C" {
    /// The process environment (POSIX).
    static mut environ: *mut *mut c_char;
}

/// Takes the master key out of the environment (keeping it for [`master_key_text`]) and
/// removes the database URL (clap has read it by now). Call it while the process has one
/// thread: changing the environment races with any other thread reading it.
pub fn take_from_environment() {
    let _ = MASTER_KEY_TEXT.set(std::env::var_os(MASTER_KEY_VARIABLE));
    for name in [MASTER_KEY_VARIABLE, DATABASE_URL_VARIABLE] {
        scrub_variable(name);
    }
}

/// The master key text the environment gave, if any (read from the environment itself when
/// [`take_from_environment`] was not called, as in a library caller).
pub fn master_key_text() -> Option<OsString> {
    MASTER_KEY_TEXT
        .get_or_init(|| std::env::var_os(MASTER_KEY_VARIABLE))
        .clone()
        .filter(|value| !value.is_empty())
}

/// Overwrites the value of `name` in the environment block with zero bytes, then removes the
/// variable.
fn scrub_variable(name: &str) {
    let prefix = format!("{name}=");
    // SAFETY: called while the process has one thread (see `take_from_environment`), so
    // nothing else reads or changes the environment meanwhile. `environ` is a
    // null-terminated array of pointers to NUL-terminated, writable strings; each value is
    // overwritten within its own string's length, before `remove_var` unlinks the entry (the
    // string itself is never freed while referenced here).
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let text = *entry;
            let length = CStr::from_ptr(text).to_bytes().len();
            if CStr::from_ptr(text)
                .to_bytes()
                .starts_with(prefix.as_bytes())
            {
                std::ptr::write_bytes(text.add(prefix.len()), 0, length - prefix.len());
            }
            entry = entry.add(1);
        }
    }
    std::env::remove_var(name);
}

/// Refuses a master key file its group or others may read or write, as ssh refuses such a
/// private key.
pub fn check_master_key_file_mode(path: &Path) -> anyhow::Result<()> {
    let mode = fs::metadata(path)
        .with_context(|| format!("reading the mode of the master key file {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "the master key file {} is accessible by others (mode {:04o}); it must be readable \
             by its owner only: chmod 600 {}",
            path.display(),
            mode & 0o7777,
            path.display()
        );
    }
    Ok(())
}

/// Writes the root credentials of a new installation to `<data_dir>/root-credentials.json`
/// (mode 0600, replacing a stale file) and returns its path.
pub fn write_root_credentials(
    data_dir: &Path,
    credentials: &serde_json::Value,
) -> anyhow::Result<PathBuf> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let path = data_dir.join(ROOT_CREDENTIALS_FILE);
    let partial = data_dir.join(format!("{ROOT_CREDENTIALS_FILE}.partial"));
    let _ = fs::remove_file(&partial);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut text = serde_json::to_vec_pretty(credentials)?;
    text.push(b'\n');
    file.write_all(&text)?;
    file.sync_all()?;
    fs::rename(&partial, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
