//! What the gateway holds: running sessions (terminals and log streams) and browser sessions,
//! each with the credential it stands on, under caps that refuse rather than evict.
//!
//! - At most `max_running_sessions` terminals and log streams run at once; a slot is taken
//!   before a token is redeemed (so a refused connection burns nothing) and given back when
//!   the session ends.
//! - At most `terminals_per_browser_session` terminals run for one browser session.
//! - At most `max_browser_sessions` browser sessions are held; when the table is full (after
//!   expired ones are dropped), a new one is refused: nobody else's session is evicted.
//!
//! Every entry records whose access it stands on (account, principal, key, service, source
//! address), so that a revocation can find and end what it affects (see `revocation`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use keyplane_core::instance_access::InstanceGrant;
use keyplane_core::model::InstanceSession;
use tokio::sync::watch;
use tokio::time::Instant;

/// The SHA-256 of a browser session id.
pub type BrowserSessionKey = [u8; 32];

/// Whose access a session stands on, and where it was opened from (policies are evaluated on
/// that address when the session is checked again).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Credential {
    pub account_id: u64,
    pub principal_uin: u64,
    pub key_id: String,
    pub cluster: String,
    pub service: String,
    pub source_address: String,
}

impl Credential {
    pub fn of(session: &InstanceSession, source_address: &str) -> Self {
        Self {
            account_id: session.account_id,
            principal_uin: session.principal_uin,
            key_id: session.key_id.clone(),
            cluster: session.cluster.clone(),
            service: session.service.clone(),
            source_address: source_address.to_owned(),
        }
    }

    pub fn grant(&self) -> InstanceGrant<'_> {
        InstanceGrant {
            account_id: self.account_id,
            principal_uin: self.principal_uin,
            key_id: &self.key_id,
            cluster: &self.cluster,
            service: &self.service,
        }
    }
}

/// The caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub max_running_sessions: usize,
    pub terminals_per_browser_session: usize,
    pub max_browser_sessions: usize,
}

/// Why a session was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapReached {
    #[error("the server runs as many terminal and log sessions as it allows; try again later")]
    RunningSessions,
    #[error("this Workbench session already has as many terminals open as it allows")]
    TerminalsPerBrowserSession,
    #[error("the server holds as many Workbench sessions as it allows; try again later")]
    BrowserSessions,
}

struct Running {
    credential: Option<Credential>,
    browser_session: Option<BrowserSessionKey>,
    revoke: watch::Sender<bool>,
}

/// A browser session: the redeemed Workbench token's session, until `expires_at`.
#[derive(Clone)]
pub struct BrowserSession {
    pub session: InstanceSession,
    pub credential: Credential,
    pub expires_at: Instant,
}

#[derive(Default)]
struct Tables {
    next_id: u64,
    running: HashMap<u64, Running>,
    browser_sessions: HashMap<BrowserSessionKey, BrowserSession>,
}

fn lock(tables: &Mutex<Tables>) -> MutexGuard<'_, Tables> {
    tables
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The gateway's sessions.
pub struct Registry {
    caps: Caps,
    tables: Arc<Mutex<Tables>>,
}

/// A running session's place: given back when dropped.
pub struct Slot {
    id: u64,
    tables: Arc<Mutex<Tables>>,
    revoked: Option<watch::Receiver<bool>>,
}

impl Slot {
    /// Records whose access the session stands on, once its token is redeemed.
    pub fn stand_on(&self, credential: Credential) {
        if let Some(running) = lock(&self.tables).running.get_mut(&self.id) {
            running.credential = Some(credential);
        }
    }

    /// Becomes `true` when the session's credential is revoked.
    pub fn revoked(&mut self) -> watch::Receiver<bool> {
        self.revoked
            .take()
            .unwrap_or_else(|| watch::channel(true).1)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.tables).running.remove(&self.id);
    }
}

impl Registry {
    pub fn new(caps: Caps) -> Self {
        Self {
            caps,
            tables: Arc::new(Mutex::new(Tables::default())),
        }
    }

    /// How many terminal and log sessions run (or are being opened).
    pub fn running(&self) -> usize {
        lock(&self.tables).running.len()
    }

    /// Takes a slot for a new session (of `browser_session`, for the page's terminal).
    pub fn reserve(&self, browser_session: Option<BrowserSessionKey>) -> Result<Slot, CapReached> {
        let mut tables = lock(&self.tables);
        if tables.running.len() >= self.caps.max_running_sessions {
            return Err(CapReached::RunningSessions);
        }
        if let Some(key) = browser_session {
            let open = tables
                .running
                .values()
                .filter(|running| running.browser_session == Some(key))
                .count();
            if open >= self.caps.terminals_per_browser_session {
                return Err(CapReached::TerminalsPerBrowserSession);
            }
        }
        tables.next_id += 1;
        let id = tables.next_id;
        let (revoke, revoked) = watch::channel(false);
        tables.running.insert(
            id,
            Running {
                credential: None,
                browser_session,
                revoke,
            },
        );
        Ok(Slot {
            id,
            tables: self.tables.clone(),
            revoked: Some(revoked),
        })
    }

    /// Whether a new browser session would be admitted now (checked before a token is spent).
    pub fn has_browser_room(&self, now: Instant) -> bool {
        let mut tables = lock(&self.tables);
        tables
            .browser_sessions
            .retain(|_, browser_session| browser_session.expires_at > now);
        tables.browser_sessions.len() < self.caps.max_browser_sessions
    }

    /// Holds a new browser session, unless the table is full.
    pub fn add_browser_session(
        &self,
        key: BrowserSessionKey,
        browser_session: BrowserSession,
        now: Instant,
    ) -> Result<(), CapReached> {
        let mut tables = lock(&self.tables);
        tables
            .browser_sessions
            .retain(|_, browser_session| browser_session.expires_at > now);
        if tables.browser_sessions.len() >= self.caps.max_browser_sessions {
            return Err(CapReached::BrowserSessions);
        }
        tables.browser_sessions.insert(key, browser_session);
        Ok(())
    }

    /// The live browser session `key` names.
    pub fn browser_session(&self, key: &BrowserSessionKey, now: Instant) -> Option<BrowserSession> {
        let tables = lock(&self.tables);
        tables
            .browser_sessions
            .get(key)
            .filter(|browser_session| browser_session.expires_at > now)
            .cloned()
    }

    /// Drops a browser session (its terminals are ended by their own credential's check).
    pub fn remove_browser_session(&self, key: &BrowserSessionKey) {
        lock(&self.tables).browser_sessions.remove(key);
    }

    /// The distinct credentials of everything held that `affected` selects.
    pub fn credentials(&self, affected: impl Fn(&Credential) -> bool) -> Vec<Credential> {
        let tables = lock(&self.tables);
        let mut credentials: Vec<Credential> = tables
            .running
            .values()
            .filter_map(|running| running.credential.as_ref())
            .chain(
                tables
                    .browser_sessions
                    .values()
                    .map(|browser_session| &browser_session.credential),
            )
            .filter(|credential| affected(credential))
            .cloned()
            .collect();
        credentials.sort_unstable_by(|left, right| {
            (
                left.account_id,
                left.principal_uin,
                &left.key_id,
                &left.cluster,
            )
                .cmp(&(
                    right.account_id,
                    right.principal_uin,
                    &right.key_id,
                    &right.cluster,
                ))
                .then_with(|| {
                    (&left.service, &left.source_address)
                        .cmp(&(&right.service, &right.source_address))
                })
        });
        credentials.dedup();
        credentials
    }

    /// Ends every running session and drops every browser session that stands on
    /// `credential`; how many of each.
    pub fn revoke(&self, credential: &Credential) -> (usize, usize) {
        let mut tables = lock(&self.tables);
        let mut ended = 0;
        for running in tables.running.values() {
            if running.credential.as_ref() == Some(credential) {
                let _ = running.revoke.send(true);
                ended += 1;
            }
        }
        let before = tables.browser_sessions.len();
        tables
            .browser_sessions
            .retain(|_, browser_session| &browser_session.credential != credential);
        (ended, before - tables.browser_sessions.len())
    }
}
