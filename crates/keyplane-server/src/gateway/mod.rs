//! The EAS terminal gateway: what the URLs of `CreateServiceInstanceToken` open.
//!
//! - `GET /eas/workbench?token=…` shows what the Workbench token opens and a button; only the
//!   button's same-origin `POST /eas/workbench` redeems it (see `confirmation`) and starts a
//!   browser session bound to that worker: a random session id in an HttpOnly,
//!   SameSite=Strict cookie on `<prefix>/eas` (Secure on https), expiring after the maximum
//!   session length; only its SHA-256 hash is kept, in memory, mapped to the redeemed
//!   [`InstanceSession`]. The answer is a 303 to the token-free page `/eas/workbench/terminal`.
//!   A used, expired, revoked or unknown token gets an HTML page saying so (4xx) and opens
//!   nothing.
//! - `GET /eas/workbench/terminal` serves the page; `/eas/workbench/assets/…` its scripts.
//! - `GET /eas/v1/session-terminal` (WebSocket) is the page's terminal: authenticated by the
//!   cookie, and only from the public URL's origin (cross-site WebSocket hijacking); at most
//!   `terminals_per_browser_session` at once per browser session.
//! - `GET /eas/v1/terminal?token=…` (WebSocket) redeems the Terminal token and bridges the
//!   socket to the exec command on a pseudo-terminal, for non-browser clients.
//! - `GET /eas/v1/streamlog?token=…` (WebSocket) redeems the Streamlog token and streams the
//!   log command's output until it ends.
//!
//! A WebSocket handshake is checked, and a slot under the caps taken (`registry`), before its
//! token is redeemed, so a plain GET or a refused connection burns nothing. A refused socket is
//! answered in JSON: the refusal is a member of the Alibaba dialect's code table
//! ([`AliyunCode`]), rendered by its renderer ([`render::gateway_error_answer`]). Programs run as
//! the session user (`session_user`). Revoking the key or the permission that issued a token
//! ends what it opened (`revocation`). Each session is audited when it ends (product `eas`,
//! action `TerminalSession` or `StreamlogSession`, target `cluster/service/instance/worker`,
//! the principal and key that asked for the token, and a detail with start, end, bytes each
//! way and how it ended).

mod bridge;
mod confirmation;
pub mod control;
mod page;
mod process;
mod registry;
pub mod revocation;
mod session_user;
mod websocket;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use keyplane_aliyun::eas::{
    token_from_query, PublicUrls, TokenPresentation, STREAMLOG_PATH, TERMINAL_PATH, WORKBENCH_PATH,
};
use keyplane_aliyun::{render, AliyunCode, AliyunError};
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{InstanceSession, InstanceTokenPurpose};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::Instant;

use bridge::{SessionControl, SessionLimits, SessionReport};
pub use control::CONTROL_MARKER;
use registry::{Caps, Credential, Registry};
pub use session_user::{SessionUser, SessionUserError, DEFAULT_SESSION_USER};

use crate::http::AppState;

/// The Workbench page, after the redirect.
pub const WORKBENCH_PAGE_PATH: &str = "/eas/workbench/terminal";
/// Where the page's assets are.
pub const WORKBENCH_ASSETS_PREFIX: &str = "/eas/workbench/assets/";
/// The page's terminal WebSocket, authenticated by the session cookie.
pub const SESSION_TERMINAL_PATH: &str = "/eas/v1/session-terminal";
/// The browser session cookie.
pub const SESSION_COOKIE: &str = "keyplane_workbench";
/// The audit actions of finished sessions.
pub const TERMINAL_SESSION_ACTION: &str = "TerminalSession";
pub const STREAMLOG_SESSION_ACTION: &str = "StreamlogSession";

pub const DEFAULT_IDLE_TIMEOUT_SECONDS: u64 = 900;
pub const DEFAULT_MAX_SESSION_SECONDS: u64 = 3600;
/// Terminals and log streams running at once, on one server.
pub const DEFAULT_MAX_RUNNING_SESSIONS: usize = 64;
/// Terminals one browser session may have open at once.
pub const DEFAULT_TERMINALS_PER_BROWSER_SESSION: usize = 1;
/// Browser sessions held at once; past it new ones are refused.
pub const DEFAULT_MAX_BROWSER_SESSIONS: usize = 10_000;

/// How terminal sessions run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    /// A terminal with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// No terminal, log stream or browser session lasts longer than this.
    pub max_session: Duration,
    pub max_running_sessions: usize,
    pub terminals_per_browser_session: usize,
    pub max_browser_sessions: usize,
    /// Who session programs run as; `None`: the server's own user.
    pub session_user: Option<SessionUser>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECONDS),
            max_session: Duration::from_secs(DEFAULT_MAX_SESSION_SECONDS),
            max_running_sessions: DEFAULT_MAX_RUNNING_SESSIONS,
            terminals_per_browser_session: DEFAULT_TERMINALS_PER_BROWSER_SESSION,
            max_browser_sessions: DEFAULT_MAX_BROWSER_SESSIONS,
            session_user: None,
        }
    }
}

/// The gateway's state, shared by every connection.
pub struct Gateway {
    settings: GatewaySettings,
    /// `scheme://host[:port]` of the public URL: the only origin the page's socket accepts.
    origin: String,
    /// `<public prefix>/eas`: the cookie's path.
    cookie_path: String,
    secure_cookie: bool,
    registry: Registry,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Gateway")
            .field("settings", &self.settings)
            .field("origin", &self.origin)
            .field("running_sessions", &self.running_sessions())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    pub fn new(settings: GatewaySettings, public_urls: &PublicUrls) -> Self {
        let base = public_urls.base();
        let secure_cookie = base.starts_with("https://");
        let after_scheme = base.split_once("://").map_or(base, |(_, rest)| rest);
        let (authority, prefix) = match after_scheme.find('/') {
            Some(slash) => after_scheme.split_at(slash),
            None => (after_scheme, ""),
        };
        let scheme = if secure_cookie { "https" } else { "http" };
        Self {
            registry: Registry::new(Caps {
                max_running_sessions: settings.max_running_sessions,
                terminals_per_browser_session: settings.terminals_per_browser_session,
                max_browser_sessions: settings.max_browser_sessions,
            }),
            settings,
            origin: format!("{scheme}://{}", authority.to_ascii_lowercase()),
            cookie_path: format!("{prefix}/eas"),
            secure_cookie,
            shutdown: watch::channel(false).0,
        }
    }

    /// How many terminal and log sessions are running.
    pub fn running_sessions(&self) -> usize {
        self.registry.running()
    }

    /// Ends every running session (1001, going away) and waits up to `grace` for them to
    /// finish ending their programs.
    pub async fn shut_down(&self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let deadline = Instant::now() + grace;
        while self.running_sessions() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The key of the browser session named by the request's cookie.
    fn browser_session_key(headers: &http::HeaderMap) -> Option<registry::BrowserSessionKey> {
        confirmation::cookie(headers, SESSION_COOKIE)
            .map(|session_id| keyplane_crypto::token::hash_token(&session_id))
    }

    fn session_cookie(&self, session_id: &str) -> String {
        format!(
            "{SESSION_COOKIE}={session_id}; Path={}; Max-Age={}; HttpOnly; SameSite=Strict{}",
            self.cookie_path,
            self.settings.max_session.as_secs(),
            if self.secure_cookie { "; Secure" } else { "" }
        )
    }
}

/// Whether the gateway answers `path`.
pub fn is_gateway_path(path: &str) -> bool {
    matches!(
        path,
        WORKBENCH_PATH
            | WORKBENCH_PAGE_PATH
            | TERMINAL_PATH
            | STREAMLOG_PATH
            | SESSION_TERMINAL_PATH
    ) || path.starts_with(WORKBENCH_ASSETS_PREFIX)
}

/// A refusal of the gateway's, under a new request id.
fn refused(error: impl Into<AliyunError>) -> Response<Full<Bytes>> {
    answer_refusal(&error.into(), new_request_id())
}

/// The answer to a refusal: the Alibaba dialect's one renderer, in the gateway's shape.
fn answer_refusal(error: &AliyunError, request_id: String) -> Response<Full<Bytes>> {
    crate::http::aliyun_response(render::gateway_error_answer(error, request_id))
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

fn header_text(request: &Request<Incoming>, name: header::HeaderName) -> &str {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// Answers a request for one of the gateway's paths (see [`is_gateway_path`]).
pub async fn serve(
    state: &Arc<AppState>,
    request: Request<Incoming>,
    source_address: &str,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if let Some(name) = path.strip_prefix(WORKBENCH_ASSETS_PREFIX) {
        return page::asset(name).unwrap_or_else(|| {
            page::message(StatusCode::NOT_FOUND, "Not found", "There is no such file.")
        });
    }
    match path.as_str() {
        TERMINAL_PATH | STREAMLOG_PATH | SESSION_TERMINAL_PATH => {
            open_websocket(state, request, &path, source_address).await
        }
        WORKBENCH_PATH if request.method() == http::Method::POST => {
            confirmation::confirm(state, request, source_address).await
        }
        WORKBENCH_PATH if request.method() == http::Method::GET => {
            confirmation::show(state, &request, source_address).await
        }
        WORKBENCH_PAGE_PATH
            if request.method() == http::Method::GET || request.method() == http::Method::HEAD =>
        {
            // Served without the cookie: the page's socket, a same-site request, carries it
            // and is where the session is checked.
            page::workbench()
        }
        _ => page::message(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "The Workbench is opened with GET, and confirmed from its page.",
        ),
    }
}

fn capped(error: registry::CapReached) -> Response<Full<Bytes>> {
    refused(AliyunError::new(
        AliyunCode::ThrottlingSessions,
        error.to_string(),
    ))
}

/// A WebSocket route: checks the handshake, takes a slot, redeems the token (or checks the
/// browser session), answers 101 and runs the session in its own task.
async fn open_websocket(
    state: &Arc<AppState>,
    mut request: Request<Incoming>,
    path: &str,
    source_address: &str,
) -> Response<Full<Bytes>> {
    let accept = match websocket::check_handshake(request.method(), request.headers()) {
        Ok(accept) => accept,
        Err(error) => {
            return refused(AliyunError::new(
                AliyunCode::InvalidWebSocketHandshake,
                error.to_string(),
            ))
        }
    };
    let gateway = &state.gateway;
    let (session, credential, deadline, slot) = if path == SESSION_TERMINAL_PATH {
        let origin = header_text(&request, header::ORIGIN);
        if !origin.eq_ignore_ascii_case(&gateway.origin) {
            return refused(AliyunCode::ForbiddenOrigin);
        }
        let key = Gateway::browser_session_key(request.headers());
        let Some(browser_session) =
            key.and_then(|key| gateway.registry.browser_session(&key, Instant::now()))
        else {
            return refused(AliyunCode::InvalidWorkbenchSession);
        };
        let slot = match gateway.registry.reserve(key) {
            Ok(slot) => slot,
            Err(error) => return capped(error),
        };
        match revocation::credential_stands(state, &browser_session.credential).await {
            Ok(true) => {}
            Ok(false) => {
                if let Some(key) = key {
                    gateway.registry.remove_browser_session(&key);
                }
                return refused(AliyunError::new(
                    AliyunCode::InstanceTokenRevoked,
                    "The access key or permission that opened this Workbench session was revoked.",
                ));
            }
            Err(error) => {
                tracing::warn!(%error, "checking a Workbench session failed");
                return refused(AliyunCode::ServiceUnavailable);
            }
        }
        let deadline = browser_session
            .expires_at
            .min(Instant::now() + gateway.settings.max_session);
        (
            browser_session.session,
            browser_session.credential,
            deadline,
            slot,
        )
    } else {
        let slot = match gateway.registry.reserve(None) {
            Ok(slot) => slot,
            Err(error) => return capped(error),
        };
        let purpose = if path == TERMINAL_PATH {
            InstanceTokenPurpose::Terminal
        } else {
            InstanceTokenPurpose::Streamlog
        };
        let token = token_from_query(request.uri().query().unwrap_or("")).unwrap_or_default();
        let presentation = TokenPresentation {
            purpose,
            token: &token,
            source_address,
            user_agent: header_text(&request, header::USER_AGENT),
            now: state.clock.now(),
        };
        match state.aliyun.redeem_instance_token(presentation).await {
            Ok(session) => {
                let credential = Credential::of(&session, source_address);
                let deadline = Instant::now() + gateway.settings.max_session;
                (session, credential, deadline, slot)
            }
            Err(refusal) => return answer_refusal(&refusal.error, refusal.request_id),
        }
    };
    let mut slot = slot;
    slot.stand_on(credential);
    let upgrade = hyper::upgrade::on(&mut request);
    let started = Started {
        time: state.clock.now(),
        source_address: source_address.to_owned(),
        user_agent: header_text(&request, header::USER_AGENT)
            .chars()
            .take(256)
            .collect(),
    };
    let is_log = path == STREAMLOG_PATH;
    let limits = SessionLimits {
        idle_timeout: (!is_log).then_some(gateway.settings.idle_timeout),
        deadline,
    };
    let control = SessionControl {
        shutdown: gateway.shutdown.subscribe(),
        revoked: slot.revoked(),
    };
    let state = state.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let socket = match websocket::accept(upgrade).await {
            Ok(socket) => socket,
            Err(error) => {
                tracing::debug!(%error, "the WebSocket upgrade did not complete");
                return;
            }
        };
        let user = state.gateway.settings.session_user.as_ref();
        let kind = if is_log {
            bridge::Bridge::Log
        } else {
            bridge::Bridge::Terminal
        };
        let report = bridge::run(kind, socket, &session.command, user, limits, control).await;
        audit_session(&state, &session, &started, is_log, &report);
    });
    websocket::switching_protocols(&accept)
}

/// Who started a session, and when.
struct Started {
    time: OffsetDateTime,
    source_address: String,
    user_agent: String,
}

fn audit_session(
    state: &AppState,
    session: &InstanceSession,
    started: &Started,
    is_log: bool,
    report: &SessionReport,
) {
    let ended = state.clock.now();
    let format = |time: OffsetDateTime| {
        time.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let detail = format!(
        "started={} ended={} bytes_from_client={} bytes_to_client={} end={}",
        format(started.time),
        format(ended),
        report.bytes_from_client,
        report.bytes_to_client,
        report.end.describe().replace(' ', "_"),
    );
    tracing::info!(
        grant = session.grant_id,
        worker = session.worker,
        %detail,
        "EAS session ended"
    );
    state.authority.record_buffered_event(AuditEvent {
        time: ended,
        request_id: new_request_id(),
        account_id: Some(session.account_id),
        principal_uin: Some(session.principal_uin),
        key_id: Some(session.key_id.clone()),
        product: keyplane_aliyun::eas::PRODUCT.to_owned(),
        action: if is_log {
            STREAMLOG_SESSION_ACTION
        } else {
            TERMINAL_SESSION_ACTION
        }
        .to_owned(),
        target: Some(format!(
            "{}/{}/{}/{}",
            session.cluster, session.service, session.instance, session.worker
        )),
        outcome: report.end.outcome().to_owned(),
        source_address: started.source_address.clone(),
        user_agent: started.user_agent.clone(),
        detail: Some(detail),
        authorization: None,
    });
}
