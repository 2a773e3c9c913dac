//! The HTTP front: one listening port for every dialect and the native routes. Connections are
//! accepted by [`listener`] (connection limits, optional [`tls`], hyper's header limits and
//! timeout), request bodies are read by [`limits`] with a limit fitted to each route, a
//! minimum rate and a shared budget, the client's address is found by [`client_address`]
//! (forwarding headers from trusted proxies only), and every request is answered by exactly one
//! route: `/healthz`, `/readyz`, the EAS terminal gateway (`/eas/…`, see [`crate::gateway`]; its
//! WebSockets are HTTP/1.1 upgrades), the SMC agent's registration endpoint, PAI-EAS (ROA,
//! recognised by its `/api/v2/services/` path), the Alibaba RPC dialect (recognised by its
//! headers or parameters), or the Tencent dialect.

pub mod client_address;
pub mod limits;
pub mod listener;
pub mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use keyplane_aliyun::agent::REGISTRATION_PATH;
use keyplane_aliyun::{AliyunDialect, AliyunError};
use keyplane_core::{Clock, CoreError};
use keyplane_engine::{Headers, Incoming as IncomingRequest, RequestView};
use keyplane_tencent::{TencentDialect, TencentError, RESPONSE_CONTENT_TYPE};

pub use listener::{serve, ListenerSettings};

use client_address::TrustedProxies;
use limits::{BodyBudget, BodyLimits, BodyProblem, BodyRate, FrontLimits, Reservation};

/// The front door's per-request settings and shared budget.
pub struct FrontState {
    pub body_limits: BodyLimits,
    pub body_rate: BodyRate,
    pub body_budget: Arc<BodyBudget>,
    pub trusted_proxies: TrustedProxies,
}

impl FrontState {
    pub fn new(limits: &FrontLimits, trusted_proxies: TrustedProxies) -> Self {
        Self {
            body_limits: limits.body,
            body_rate: limits.body_rate,
            body_budget: BodyBudget::new(limits.max_buffered_body_bytes),
            trusted_proxies,
        }
    }
}

/// What every connection shares.
pub struct AppState {
    pub tencent: TencentDialect,
    pub aliyun: AliyunDialect,
    pub clock: Arc<dyn Clock>,
    /// For readiness: the store must answer.
    pub store: Arc<dyn keyplane_core::Store>,
    /// For audit events written outside a use case (terminal sessions).
    pub authority: Arc<keyplane_core::Authority>,
    /// The EAS terminal gateway (`/eas/…`).
    pub gateway: crate::gateway::Gateway,
    /// Body limits, the body budget and the trusted proxies.
    pub front: FrontState,
}

/// How long `/readyz` waits for the store.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

fn plain_text(status: http::StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    response
}

fn json_response(body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(RESPONSE_CONTENT_TYPE),
    );
    response
}

pub(crate) fn aliyun_response(
    outgoing: keyplane_aliyun::OutgoingResponse,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(outgoing.body)));
    *response.status_mut() =
        http::StatusCode::from_u16(outgoing.status).unwrap_or(http::StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(outgoing.content_type),
    );
    response
}

/// Which dialect answers a request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Registration,
    Eas,
    Aliyun,
    Tencent,
}

impl Route {
    /// This route's body limit.
    fn body_limit(self, limits: &BodyLimits) -> usize {
        match self {
            Route::Registration => limits.registration,
            Route::Eas => limits.eas,
            Route::Aliyun | Route::Tencent => limits.api,
        }
    }
}

/// The answer to a request whose body could not be read, in its dialect.
fn body_error(state: &AppState, route: Route, problem: BodyProblem) -> Response<Full<Bytes>> {
    const INCOMPLETE: &str = "it was not received completely.";
    const TOO_SLOW: &str = "it was sent too slowly.";
    // The server as a whole is over its body budget: the dialect's throttling answer, which
    // SDKs retry after a pause.
    let busy = || CoreError::RateLimited {
        action: "this server".to_owned(),
    };
    match route {
        Route::Registration | Route::Eas | Route::Aliyun => {
            aliyun_response(state.aliyun.error_response(match problem {
                BodyProblem::TooLarge(limit) => AliyunError::request_too_large(limit),
                BodyProblem::Incomplete => AliyunError::unreadable_body(INCOMPLETE),
                BodyProblem::TooSlow => AliyunError::unreadable_body(TOO_SLOW),
                BodyProblem::Busy => AliyunError::from_core(&busy()),
            }))
        }
        Route::Tencent => json_response(
            state
                .tencent
                .error_response(match problem {
                    BodyProblem::TooLarge(limit) => TencentError::request_too_large(limit),
                    BodyProblem::Incomplete => TencentError::invalid_parameter(
                        "The request body could not be read completely.",
                    ),
                    BodyProblem::TooSlow => {
                        TencentError::invalid_parameter("The request body was sent too slowly.")
                    }
                    BodyProblem::Busy => {
                        TencentError::from_core(&busy(), keyplane_tencent::Product::Cam)
                    }
                })
                .body,
        ),
    }
}

/// Answers one request. `peer_address` is the TCP peer's address as text (made once per
/// connection); a trusted proxy's requests name their client in a header instead.
pub(crate) async fn serve_request(
    state: Arc<AppState>,
    peer: SocketAddr,
    peer_address: Arc<str>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let source_address: Arc<str> = if state.front.trusted_proxies.trusts(peer.ip()) {
        Arc::from(
            state
                .front
                .trusted_proxies
                .client_address(peer.ip(), request.headers())
                .to_string(),
        )
    } else {
        peer_address
    };
    match request.uri().path() {
        "/healthz" => return Ok(plain_text(http::StatusCode::OK, "ok\n")),
        "/readyz" => {
            let ready = tokio::time::timeout(READINESS_TIMEOUT, state.store.ping()).await;
            return Ok(match ready {
                Ok(Ok(())) => plain_text(http::StatusCode::OK, "ready\n"),
                _ => plain_text(
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: the database does not answer\n",
                ),
            });
        }
        path if crate::gateway::is_gateway_path(path) => {
            return Ok(crate::gateway::serve(&state, request, &source_address).await);
        }
        _ => {}
    }
    let (parts, mut body) = request.into_parts();
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            std::str::from_utf8(value.as_bytes())
                .ok()
                .map(|value| (name.as_str(), value))
        })
        .collect();
    let mut incoming = IncomingRequest {
        request: RequestView {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            raw_query: parts.uri.query().unwrap_or(""),
            headers: Headers::new(&headers),
            body: &[],
        },
        source_address: &source_address,
        now: state.clock.now(),
    };
    // The route is decided from the headers and query first (for the body limit and errors
    // about the body), and again with the body, which may hold RPC v1 form parameters.
    let route_of = |incoming: &IncomingRequest<'_>| {
        if incoming.request.path == REGISTRATION_PATH {
            Route::Registration
        } else if keyplane_aliyun::eas::is_eas_path(incoming.request.path) {
            Route::Eas
        } else if keyplane_aliyun::recognizes(&aliyun_request(incoming).raw()) {
            Route::Aliyun
        } else {
            Route::Tencent
        }
    };
    let early_route = route_of(&incoming);
    let declared_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let mut reservation = Reservation::empty(&state.front.body_budget);
    let read = limits::read_body(
        &mut body,
        declared_length,
        early_route.body_limit(&state.front.body_limits),
        &state.front.body_rate,
        &mut reservation,
    )
    .await;
    let body = match read {
        Ok(body) => body,
        Err(problem) => {
            drop(reservation);
            let mut response = body_error(&state, early_route, problem);
            // A small refused body is read and discarded after the answer is sent, so that
            // the connection survives; anything else closes it after the answer.
            let drainable = matches!(problem, BodyProblem::TooLarge(_) | BodyProblem::Busy)
                && declared_length.is_some_and(limits::is_drainable);
            if drainable {
                tokio::spawn(limits::drain(body));
            } else {
                response.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
            }
            return Ok(response);
        }
    };
    incoming.request.body = &body;
    let route = if early_route == Route::Tencent {
        route_of(&incoming)
    } else {
        early_route
    };
    let response = match route {
        Route::Registration => {
            let outgoing = state
                .aliyun
                .register_source_server(aliyun_request(&incoming))
                .await;
            log_refusal(&outgoing.request_id, outgoing.error_code);
            aliyun_response(outgoing)
        }
        Route::Eas => {
            let outgoing = state.aliyun.handle_eas(aliyun_request(&incoming)).await;
            log_refusal(&outgoing.request_id, outgoing.error_code);
            aliyun_response(outgoing)
        }
        Route::Aliyun => {
            let outgoing = state
                .aliyun
                .handle(aliyun_request(&incoming).incoming())
                .await;
            log_refusal(&outgoing.request_id, outgoing.error_code);
            aliyun_response(outgoing)
        }
        Route::Tencent => {
            let outgoing = state.tencent.handle(&incoming).await;
            log_refusal(&outgoing.request_id, outgoing.error_code);
            json_response(outgoing.body)
        }
    };
    Ok(response)
}

fn log_refusal(request_id: &str, code: Option<&'static str>) {
    if let Some(code) = code {
        tracing::debug!(request_id, code, "request refused");
    }
}

/// The same request, as the Alibaba dialect takes it.
fn aliyun_request<'a>(incoming: &IncomingRequest<'a>) -> keyplane_aliyun::IncomingRequest<'a> {
    keyplane_aliyun::IncomingRequest {
        method: incoming.request.method,
        path: incoming.request.path,
        raw_query: incoming.request.raw_query,
        headers: incoming.request.headers.as_slice(),
        body: incoming.request.body,
        source_address: incoming.source_address,
        now: incoming.now,
    }
}
