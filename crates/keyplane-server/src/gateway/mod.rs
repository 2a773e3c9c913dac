//! The EAS terminal gateway: what the URLs of `CreateServiceInstanceToken` open.
//!
//! - `GET /eas/workbench?token=…` redeems the Workbench token and starts a browser session
//!   bound to that worker: a random session id in an HttpOnly, SameSite=Strict cookie on
//!   `<prefix>/eas` (Secure on https), expiring after the maximum session length; only its
//!   SHA-256 hash is kept, in memory, mapped to the redeemed [`InstanceSession`]. The answer is
//!   a 303 to the token-free page `/eas/workbench/terminal`. A used, expired or unknown token
//!   gets an HTML page saying so (4xx) and opens nothing.
//! - `GET /eas/workbench/terminal` serves the page; `/eas/workbench/assets/…` its scripts.
//! - `GET /eas/v1/session-terminal` (WebSocket) is the page's terminal: authenticated by the
//!   cookie, and only from the public URL's origin (cross-site WebSocket hijacking).
//! - `GET /eas/v1/terminal?token=…` (WebSocket) redeems the Terminal token and bridges the
//!   socket to the exec command on a pseudo-terminal, for non-browser clients.
//! - `GET /eas/v1/streamlog?token=…` (WebSocket) redeems the Streamlog token and streams the
//!   log command's output until it ends.
//!
//! A WebSocket handshake is checked before its token is redeemed, so a plain GET burns
//! nothing. Each session is audited when it ends (product `eas`, action `TerminalSession` or
//! `StreamlogSession`, target `cluster/service/instance/worker`, the principal and key that
//! asked for the token, and a detail with start, end, bytes each way and how it ended).

pub mod control;
mod page;
mod process;
mod websocket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use keyplane_aliyun::eas::{
    token_from_query, PublicUrls, TokenPresentation, STREAMLOG_PATH, TERMINAL_PATH, WORKBENCH_PATH,
};
use keyplane_core::audit::AuditEvent;
use keyplane_core::model::{InstanceSession, InstanceTokenPurpose};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::Instant;

pub use control::CONTROL_MARKER;
use websocket::{SessionLimits, SessionReport};

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
/// The most browser sessions held at once; past it the oldest-expiring are dropped first.
const MAX_BROWSER_SESSIONS: usize = 10_000;

/// How long terminal sessions may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewaySettings {
    /// A terminal with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// No terminal, log stream or browser session lasts longer than this.
    pub max_session: Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECONDS),
            max_session: Duration::from_secs(DEFAULT_MAX_SESSION_SECONDS),
        }
    }
}

pub const DEFAULT_IDLE_TIMEOUT_SECONDS: u64 = 900;
pub const DEFAULT_MAX_SESSION_SECONDS: u64 = 3600;

/// A browser session: the redeemed Workbench token's session, until `expires_at`.
struct BrowserSession {
    session: InstanceSession,
    expires_at: Instant,
}

/// The gateway's state, shared by every connection.
pub struct Gateway {
    settings: GatewaySettings,
    /// `scheme://host[:port]` of the public URL: the only origin the page's socket accepts.
    origin: String,
    /// `<public prefix>/eas`: the cookie's path.
    cookie_path: String,
    secure_cookie: bool,
    /// SHA-256 of the session id → the session.
    browser_sessions: Mutex<HashMap<[u8; 32], BrowserSession>>,
    shutdown: watch::Sender<bool>,
    /// One clone per running session (its strong count, less one, is how many run).
    running: Arc<()>,
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
            settings,
            origin: format!("{scheme}://{}", authority.to_ascii_lowercase()),
            cookie_path: format!("{prefix}/eas"),
            secure_cookie,
            browser_sessions: Mutex::new(HashMap::new()),
            shutdown: watch::channel(false).0,
            running: Arc::new(()),
        }
    }

    /// How many terminal and log sessions are running.
    pub fn running_sessions(&self) -> usize {
        Arc::strong_count(&self.running) - 1
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

    fn start_browser_session(&self, session: InstanceSession) -> String {
        let session_id = keyplane_crypto::generate::bearer_token();
        let now = Instant::now();
        let mut sessions = self
            .browser_sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.retain(|_, browser_session| browser_session.expires_at > now);
        if sessions.len() >= MAX_BROWSER_SESSIONS {
            let mut expiries: Vec<Instant> = sessions
                .values()
                .map(|browser_session| browser_session.expires_at)
                .collect();
            expiries.sort_unstable();
            let cutoff = expiries[sessions.len() - MAX_BROWSER_SESSIONS];
            sessions.retain(|_, browser_session| browser_session.expires_at > cutoff);
        }
        sessions.insert(
            keyplane_crypto::token::hash_token(&session_id),
            BrowserSession {
                session,
                expires_at: now + self.settings.max_session,
            },
        );
        session_id
    }

    /// The live browser session named by the request's cookie, and when it expires.
    fn browser_session(&self, headers: &http::HeaderMap) -> Option<(InstanceSession, Instant)> {
        let session_id = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, value)| value.trim().to_owned())?;
        let sessions = self
            .browser_sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let browser_session = sessions.get(&keyplane_crypto::token::hash_token(&session_id))?;
        (browser_session.expires_at > Instant::now())
            .then(|| (browser_session.session.clone(), browser_session.expires_at))
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

fn json_error(
    status: StatusCode,
    request_id: &str,
    code: &str,
    message: &str,
) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"RequestId": request_id, "Code": code, "Message": message});
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
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
    mut request: Request<Incoming>,
    source_address: &str,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if let Some(name) = path.strip_prefix(WORKBENCH_ASSETS_PREFIX) {
        return page::asset(name).unwrap_or_else(|| {
            page::message(StatusCode::NOT_FOUND, "Not found", "There is no such file.")
        });
    }
    let is_websocket = matches!(
        path.as_str(),
        TERMINAL_PATH | STREAMLOG_PATH | SESSION_TERMINAL_PATH
    );
    if !is_websocket {
        if request.method() != http::Method::GET && request.method() != http::Method::HEAD {
            return page::message(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "The Workbench is opened with GET.",
            );
        }
        if path == WORKBENCH_PAGE_PATH {
            // Served without the cookie: a SameSite=Strict cookie is withheld when the
            // Workbench URL was followed from another site; the page's socket, a same-site
            // request, carries it and is where the session is checked.
            return page::workbench();
        }
        if request.method() != http::Method::GET {
            // Only a real visit spends the one-time URL; HEAD (link checkers) does not.
            return page::message(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "The Workbench URL is opened with GET.",
            );
        }
        return open_workbench(state, &request, source_address).await;
    }
    let accept = match websocket::check_handshake(request.method(), request.headers()) {
        Ok(accept) => accept,
        Err(error) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &uuid::Uuid::new_v4().to_string().to_ascii_uppercase(),
                "InvalidWebSocketHandshake",
                &error.to_string(),
            )
        }
    };
    let gateway = &state.gateway;
    let (session, deadline) =
        if path == SESSION_TERMINAL_PATH {
            let origin = header_text(&request, header::ORIGIN);
            if !origin.eq_ignore_ascii_case(&gateway.origin) {
                return json_error(
                    StatusCode::FORBIDDEN,
                    &uuid::Uuid::new_v4().to_string().to_ascii_uppercase(),
                    "Forbidden.Origin",
                    "The Workbench terminal accepts connections from its own page only.",
                );
            }
            match gateway.browser_session(request.headers()) {
                Some((session, expires_at)) => (
                    session,
                    expires_at.min(Instant::now() + gateway.settings.max_session),
                ),
                None => return json_error(
                    StatusCode::UNAUTHORIZED,
                    &uuid::Uuid::new_v4().to_string().to_ascii_uppercase(),
                    "InvalidWorkbenchSession",
                    "There is no Workbench session, or it has expired: open a new Workbench URL.",
                ),
            }
        } else {
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
                Ok(session) => (session, Instant::now() + gateway.settings.max_session),
                Err(refusal) => {
                    return json_error(
                        StatusCode::from_u16(refusal.error.status).unwrap_or(StatusCode::FORBIDDEN),
                        &refusal.request_id,
                        refusal.error.code,
                        &refusal.error.message,
                    )
                }
            }
        };
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
    let state = state.clone();
    let running = state.gateway.running.clone();
    let shutdown = state.gateway.shutdown.subscribe();
    tokio::spawn(async move {
        let _running = running;
        let socket = match websocket::accept(upgrade).await {
            Ok(socket) => socket,
            Err(error) => {
                tracing::debug!(%error, "the WebSocket upgrade did not complete");
                return;
            }
        };
        let report = if is_log {
            websocket::run_log(socket, &session.command, limits, shutdown).await
        } else {
            websocket::run_terminal(socket, &session.command, limits, shutdown).await
        };
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
        request_id: uuid::Uuid::new_v4().to_string().to_ascii_uppercase(),
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

/// Redeems a Workbench token: a cookie and a 303 to the page, or a page that says why not.
async fn open_workbench(
    state: &AppState,
    request: &Request<Incoming>,
    source_address: &str,
) -> Response<Full<Bytes>> {
    let Some(token) = token_from_query(request.uri().query().unwrap_or("")) else {
        return page::message(
            StatusCode::BAD_REQUEST,
            "No Workbench token",
            "This address needs the token of a Workbench URL.",
        );
    };
    let presentation = TokenPresentation {
        purpose: InstanceTokenPurpose::Workbench,
        token: &token,
        source_address,
        user_agent: header_text(request, header::USER_AGENT),
        now: state.clock.now(),
    };
    let session = match state.aliyun.redeem_instance_token(presentation).await {
        Ok(session) => session,
        Err(refusal) => {
            let status =
                StatusCode::from_u16(refusal.error.status).unwrap_or(StatusCode::FORBIDDEN);
            let (title, explanation) = match refusal.error.code {
                "InstanceToken.AlreadyUsed" => (
                    "This Workbench URL has already been used",
                    "A Workbench URL opens one session, once.",
                ),
                "InstanceToken.Expired" => (
                    "This Workbench URL has expired",
                    "A Workbench URL must be opened within a few minutes of being issued.",
                ),
                "InvalidInstanceToken" => (
                    "This Workbench URL is not valid",
                    "The token in this address was not issued for the Workbench.",
                ),
                _ => (
                    "The instance is no longer available",
                    "The service, instance or worker of this URL has been removed.",
                ),
            };
            return page::message(
                status,
                title,
                &format!("{explanation} (request {})", refusal.request_id),
            );
        }
    };
    let session_id = state.gateway.start_browser_session(session);
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    // Relative to /eas/workbench, so that a public URL with a path prefix keeps it.
    headers.insert(
        header::LOCATION,
        HeaderValue::from_static("workbench/terminal"),
    );
    if let Ok(cookie) = HeaderValue::from_str(&state.gateway.session_cookie(&session_id)) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
