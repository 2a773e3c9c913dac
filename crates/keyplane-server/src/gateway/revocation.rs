//! Revocation reaches every session a credential opened: the gateway listens to the
//! Authority's revocations (announced where its caches are evicted: changes made on this node,
//! and changes heard from other nodes through the store's notifications, or everything when
//! the notification channel was interrupted), checks again the credentials of the sessions
//! each one may affect (is the key still active for that principal, does the principal still
//! hold `eas:CreateServiceInstanceToken` on the service, as of now and from the address the
//! session was opened from) and ends those that no longer stand: running terminals and log
//! streams close with 1008 and end their programs (audited `end=revoked`), browser sessions
//! are dropped.
//!
//! A check that fails because the store did not answer keeps the session (and is logged): a
//! database outage does not cut every terminal; the next revocation checks again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use keyplane_core::instance_access::Revocation;
use keyplane_core::{CoreError, RequestContext};
use tokio::sync::{mpsc, Notify};

use super::registry::Credential;
use super::TERMINAL_SESSION_ACTION;
use crate::http::AppState;

/// How many revocations may wait to be checked; past it, everything is checked again.
const QUEUE: usize = 1024;

/// Whether `revocation` may affect sessions standing on `credential`.
fn affects(revocation: &Revocation, credential: &Credential) -> bool {
    match revocation {
        Revocation::Key(key_id) => &credential.key_id == key_id,
        Revocation::User { account_id, uin } => {
            credential.account_id == *account_id && credential.principal_uin == *uin
        }
        Revocation::Everything => true,
    }
}

/// Starts listening to the Authority's revocations for as long as the runtime runs.
pub fn watch(state: &Arc<AppState>) {
    let (sender, mut receiver) = mpsc::channel::<Revocation>(QUEUE);
    let overflowed = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    {
        let overflowed = overflowed.clone();
        let wake = wake.clone();
        state.authority.on_revocation(move |revocation| {
            if sender.try_send(revocation.clone()).is_err() {
                overflowed.store(true, Ordering::Release);
                wake.notify_one();
            }
        });
    }
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            let revocation = tokio::select! {
                received = receiver.recv() => match received {
                    Some(revocation) => revocation,
                    None => return,
                },
                () = wake.notified() => Revocation::Everything,
            };
            let revocation = if overflowed.swap(false, Ordering::AcqRel) {
                Revocation::Everything
            } else {
                revocation
            };
            let Some(state) = state.upgrade() else {
                return;
            };
            check_again(&state, &revocation).await;
        }
    });
}

/// Checks the credentials `revocation` may affect and ends what no longer stands.
pub async fn check_again(state: &AppState, revocation: &Revocation) {
    let credentials = state
        .gateway
        .registry
        .credentials(|credential| affects(revocation, credential));
    for credential in credentials {
        match credential_stands(state, &credential).await {
            Ok(true) => {}
            Ok(false) => {
                let (ended, dropped) = state.gateway.registry.revoke(&credential);
                tracing::info!(
                    key_id = credential.key_id,
                    principal = credential.principal_uin,
                    service = credential.service,
                    ended,
                    dropped,
                    "ended EAS sessions whose credential was revoked"
                );
            }
            Err(error) => tracing::warn!(
                %error,
                key_id = credential.key_id,
                "checking EAS sessions after a revocation failed; they are kept"
            ),
        }
    }
}

/// Whether the sessions standing on `credential` may go on; `Err` when the store failed.
pub async fn credential_stands(
    state: &AppState,
    credential: &Credential,
) -> Result<bool, CoreError> {
    // Not a request: the server itself asks, for the sessions the credential opened.
    let mut context = RequestContext::operator(
        state.clock.now(),
        uuid::Uuid::new_v4().to_string().to_ascii_uppercase(),
        TERMINAL_SESSION_ACTION,
    );
    context.source_address = credential.source_address.clone();
    context.user_agent = String::new();
    context.product = keyplane_aliyun::eas::PRODUCT.to_owned();
    match state
        .authority
        .check_instance_access(
            &context,
            credential.grant(),
            keyplane_aliyun::eas::INSTANCE_PERMISSION,
        )
        .await
    {
        Ok(()) => Ok(true),
        Err(CoreError::InstanceTokenRevoked | CoreError::AccessDenied(_)) => Ok(false),
        Err(error) => Err(error),
    }
}
