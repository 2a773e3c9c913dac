//! Opening a Workbench URL: a page first, the session only on a same-origin confirmation.
//!
//! - `GET /eas/workbench?token=…` spends nothing: it looks the token up and shows what it
//!   opens (service, instance, worker, who it was issued to, until when) with a button. The
//!   page carries a random confirmation value in a hidden field and in a cookie
//!   (`keyplane_workbench_confirm`, HttpOnly, SameSite=Strict, on `<prefix>/eas/workbench`).
//!   A link previewer, a link checker or a prefetch sees the page and burns nothing.
//! - `POST /eas/workbench` (the button; `token` and `confirmation` form fields) redeems the
//!   token, provided the request comes from the gateway's own origin (`Origin` equal to the
//!   public URL's; without `Origin`, `Sec-Fetch-Site: same-origin`) and carries the page's
//!   confirmation value in both the field and the cookie. A cross-site page cannot post it:
//!   its `Origin` is refused, and it can neither read nor set the cookie. So a link to
//!   someone else's Workbench URL can at most show its page, which names the worker, and the
//!   visitor decides. On success: the browser session cookie and a 303 to the terminal page.

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use keyplane_aliyun::eas::TokenPresentation;
use keyplane_aliyun::AliyunCode;
use keyplane_core::model::InstanceTokenPurpose;
use tokio::time::Instant;

use super::page;
use super::registry::{BrowserSession, Credential};
use crate::http::AppState;

/// The cookie that binds a confirmation to the page that showed it.
pub const CONFIRMATION_COOKIE: &str = "keyplane_workbench_confirm";
/// The largest confirmation body read.
const MAX_FORM_BYTES: usize = 4096;
/// How long the form's body may take to arrive.
const FORM_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the confirmation cookie lasts (a token is shorter-lived by default).
const CONFIRMATION_COOKIE_SECONDS: u64 = 86_400;

/// The value of the first cookie `name` among the request's cookies.
pub fn cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie_name, _)| *cookie_name == name)
        .map(|(_, value)| value.trim().to_owned())
}

/// The page that says why a Workbench token was refused, with the refusal's status.
fn refusal_page(refusal: &keyplane_aliyun::eas::RedemptionRefusal) -> Response<Full<Bytes>> {
    let (title, explanation) = match refusal.error.code {
        AliyunCode::InstanceTokenAlreadyUsed => (
            "This Workbench URL has already been used",
            "A Workbench URL opens one session, once.",
        ),
        AliyunCode::InstanceTokenExpired => (
            "This Workbench URL has expired",
            "A Workbench URL must be opened within a few minutes of being issued.",
        ),
        AliyunCode::InvalidInstanceToken => (
            "This Workbench URL is not valid",
            "The token in this address was not issued for the Workbench.",
        ),
        AliyunCode::Throttling => (
            "Too many failed attempts",
            "Too many requests from this address failed; try again in a moment.",
        ),
        AliyunCode::InstanceTokenRevoked | AliyunCode::ForbiddenRam => (
            "This Workbench URL has been revoked",
            "The access key or the permission that issued it is no longer in force.",
        ),
        _ => (
            "The instance is no longer available",
            "The service, instance or worker of this URL has been removed.",
        ),
    };
    page::message(
        StatusCode::from_u16(refusal.error.status()).unwrap_or(StatusCode::FORBIDDEN),
        title,
        &format!("{explanation} (request {})", refusal.request_id),
    )
}

/// `GET /eas/workbench?token=…`: the confirmation page, or a page that says why not.
pub async fn show(
    state: &AppState,
    request: &Request<Incoming>,
    source_address: &str,
) -> Response<Full<Bytes>> {
    let Some(token) = keyplane_aliyun::eas::token_from_query(request.uri().query().unwrap_or(""))
    else {
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
        user_agent: super::header_text(request, header::USER_AGENT),
        now: state.clock.now(),
    };
    let stored = match state.aliyun.preview_instance_token(presentation).await {
        Ok(stored) => stored,
        Err(refusal) => return refusal_page(&refusal),
    };
    let value = keyplane_crypto::generate::bearer_token();
    let expires_at = stored
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut response = page::confirmation(&page::Confirmation {
        cluster: &stored.cluster,
        service: &stored.service,
        instance: &stored.instance,
        worker: &stored.worker,
        principal_uin: stored.principal_uin,
        key_id: &stored.key_id,
        expires_at: &expires_at,
        token: &token,
        confirmation: &value,
    });
    let cookie = format!(
        "{CONFIRMATION_COOKIE}={value}; Path={}/workbench; Max-Age={CONFIRMATION_COOKIE_SECONDS}; \
         HttpOnly; SameSite=Strict{}",
        state.gateway.cookie_path,
        if state.gateway.secure_cookie {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Whether the request comes from a page of the gateway's own origin.
fn same_origin(state: &AppState, headers: &http::HeaderMap) -> bool {
    match headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
    {
        Some(origin) => origin.eq_ignore_ascii_case(&state.gateway.origin),
        None => headers
            .get("sec-fetch-site")
            .is_some_and(|value| value.as_bytes() == b"same-origin"),
    }
}

fn forbidden(explanation: &str) -> Response<Full<Bytes>> {
    page::message(
        StatusCode::FORBIDDEN,
        "This confirmation was not accepted",
        explanation,
    )
}

/// `POST /eas/workbench`: redeems the token on a same-origin confirmation.
pub async fn confirm(
    state: &AppState,
    request: Request<Incoming>,
    source_address: &str,
) -> Response<Full<Bytes>> {
    if !same_origin(state, request.headers()) {
        return forbidden("A Workbench URL is opened from its own page only: open the URL itself.");
    }
    let expected = cookie(request.headers(), CONFIRMATION_COOKIE).unwrap_or_default();
    let user_agent = super::header_text(&request, header::USER_AGENT)
        .chars()
        .take(256)
        .collect::<String>();
    let body = tokio::time::timeout(
        FORM_READ_TIMEOUT,
        Limited::new(request.into_body(), MAX_FORM_BYTES).collect(),
    )
    .await;
    let Ok(Ok(body)) = body else {
        return page::message(
            StatusCode::BAD_REQUEST,
            "The confirmation could not be read",
            "Open the Workbench URL again.",
        );
    };
    let body = body.to_bytes();
    let fields = keyplane_crypto::aliyun::decode_form_pairs(&String::from_utf8_lossy(&body));
    let field = |name: &str| {
        fields
            .iter()
            .find(|(field_name, _)| field_name == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    };
    let confirmation = field("confirmation");
    if expected.is_empty()
        || !keyplane_crypto::token::constant_time_equal(
            expected.as_bytes(),
            confirmation.as_bytes(),
        )
    {
        return forbidden("The confirmation does not belong to this browser: open the URL again.");
    }
    let now = Instant::now();
    if !state.gateway.registry.has_browser_room(now) {
        return page::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many Workbench sessions",
            "The server holds as many Workbench sessions as it allows. Try again later; the URL \
             has not been spent.",
        );
    }
    let presentation = TokenPresentation {
        purpose: InstanceTokenPurpose::Workbench,
        token: field("token"),
        source_address,
        user_agent: &user_agent,
        now: state.clock.now(),
    };
    let session = match state.aliyun.redeem_instance_token(presentation).await {
        Ok(session) => session,
        Err(refusal) => return refusal_page(&refusal),
    };
    let session_id = keyplane_crypto::generate::bearer_token();
    let credential = Credential::of(&session, source_address);
    let added = state.gateway.registry.add_browser_session(
        keyplane_crypto::token::hash_token(&session_id),
        BrowserSession {
            session,
            credential,
            expires_at: now + state.gateway.settings.max_session,
        },
        now,
    );
    if let Err(error) = added {
        return page::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many Workbench sessions",
            &error.to_string(),
        );
    }
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    // Relative to /eas/workbench, so that a public URL with a path prefix keeps it.
    headers.insert(
        header::LOCATION,
        HeaderValue::from_static("workbench/terminal"),
    );
    if let Ok(cookie) = HeaderValue::from_str(&state.gateway.session_cookie(&session_id)) {
        headers.append(header::SET_COOKIE, cookie);
    }
    let spent = format!(
        "{CONFIRMATION_COOKIE}=; Path={}/workbench; Max-Age=0; HttpOnly; SameSite=Strict",
        state.gateway.cookie_path
    );
    if let Ok(spent) = HeaderValue::from_str(&spent) {
        headers.append(header::SET_COOKIE, spent);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
