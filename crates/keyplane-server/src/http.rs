//! The HTTP front: one listening port for every dialect and the native routes. Connections are
//! served by hyper with explicit limits (header buffer, header count, header read timeout),
//! request bodies are read with a size cap and a deadline, and every request is answered by
//! exactly one route: `/healthz`, `/readyz`, the EAS terminal gateway (`/eas/…`, see
//! [`crate::gateway`]; its WebSockets are HTTP/1.1 upgrades), the SMC agent's registration endpoint, PAI-EAS
//! (ROA, recognised by its `/api/v2/services/` path), the Alibaba RPC dialect (recognised by
//! its headers or parameters), or the Tencent dialect. Shutdown stops accepting, lets in-flight
//! requests finish within a grace period, then flushes buffered writes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use keyplane_aliyun::agent::REGISTRATION_PATH;
use keyplane_aliyun::{AliyunDialect, AliyunError};
use keyplane_core::Clock;
use keyplane_tencent::envelope::MAX_TC3_BODY_BYTES;
use keyplane_tencent::{IncomingRequest, TencentDialect, TencentError, RESPONSE_CONTENT_TYPE};
use tokio::net::TcpListener;

/// The largest header section hyper buffers; larger requests are refused by hyper itself.
const MAX_HEADER_BUFFER_BYTES: usize = 1024 * 1024;
/// The most headers one request may carry; hyper refuses more itself (431). hyper sizes its
/// per-request header index table by this, so it is kept near what clients send (about 15).
const MAX_HEADERS: usize = 128;
/// How long a client may take to send its headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Past the body limit, how much more is read and discarded before the connection is closed.
const MAX_DRAINED_BODY_BYTES: usize = 4 * MAX_TC3_BODY_BYTES;
/// How long a client may take to send its body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Why a request body was not usable.
enum BodyProblem {
    TooLarge,
    Incomplete,
}

/// Reads a body of at most [`MAX_TC3_BODY_BYTES`]. A larger one is read on and discarded up
/// to [`MAX_DRAINED_BODY_BYTES`], so that the client, still writing, receives the error
/// envelope instead of a broken pipe.
async fn read_body(mut body: Incoming) -> Result<Bytes, BodyProblem> {
    let mut collected = bytes::BytesMut::new();
    let mut total = 0_usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyProblem::Incomplete)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > MAX_DRAINED_BODY_BYTES {
            return Err(BodyProblem::TooLarge);
        }
        if total <= MAX_TC3_BODY_BYTES {
            collected.extend_from_slice(&data);
        }
    }
    if total > MAX_TC3_BODY_BYTES {
        return Err(BodyProblem::TooLarge);
    }
    Ok(collected.freeze())
}

fn json_response(body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(RESPONSE_CONTENT_TYPE),
    );
    response
}

fn aliyun_response(outgoing: keyplane_aliyun::OutgoingResponse) -> Response<Full<Bytes>> {
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

/// The answer to a request whose body could not be read, in its dialect.
fn body_error(
    state: &AppState,
    route: Route,
    problem: Option<BodyProblem>,
) -> Response<Full<Bytes>> {
    match route {
        Route::Registration | Route::Eas | Route::Aliyun => {
            aliyun_response(state.aliyun.error_response(match problem {
                Some(BodyProblem::TooLarge) => AliyunError::request_too_large(MAX_TC3_BODY_BYTES),
                _ => AliyunError::unreadable_body("it was not received completely."),
            }))
        }
        Route::Tencent => json_response(
            state
                .tencent
                .error_response(match problem {
                    Some(BodyProblem::TooLarge) => {
                        TencentError::request_too_large(MAX_TC3_BODY_BYTES)
                    }
                    _ => TencentError::invalid_parameter(
                        "The request body could not be read completely.",
                    ),
                })
                .body,
        ),
    }
}

async fn serve_request(
    state: Arc<AppState>,
    source_address: Arc<str>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
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
    let (parts, body) = request.into_parts();
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
        method: parts.method.as_str(),
        path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &[],
        source_address: &source_address,
        now: state.clock.now(),
    };
    // The route is decided from the headers and query first (for errors about the body),
    // and again with the body, which may hold RPC v1 form parameters.
    let route_of = |incoming: &IncomingRequest<'_>| {
        if incoming.path == REGISTRATION_PATH {
            Route::Registration
        } else if keyplane_aliyun::eas::is_eas_path(incoming.path) {
            Route::Eas
        } else if keyplane_aliyun::recognizes(&aliyun_request(incoming)) {
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
    if declared_length.is_some_and(|length| length > MAX_DRAINED_BODY_BYTES as u64) {
        return Ok(body_error(&state, early_route, Some(BodyProblem::TooLarge)));
    }
    let body = match tokio::time::timeout(BODY_READ_TIMEOUT, read_body(body)).await {
        Ok(Ok(body)) => body,
        Ok(Err(problem)) => return Ok(body_error(&state, early_route, Some(problem))),
        Err(_) => return Ok(body_error(&state, early_route, None)),
    };
    incoming.body = &body;
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
            let outgoing = state.aliyun.handle(aliyun_request(&incoming)).await;
            log_refusal(&outgoing.request_id, outgoing.error_code);
            aliyun_response(outgoing)
        }
        Route::Tencent => {
            let outgoing = state.tencent.handle(incoming).await;
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
        method: incoming.method,
        path: incoming.path,
        raw_query: incoming.raw_query,
        headers: incoming.headers,
        body: incoming.body,
        source_address: incoming.source_address,
        now: incoming.now,
    }
}

/// Serves until `shutdown` resolves, then drains connections for up to `grace`: each
/// connection is asked to finish its in-flight request and close, and the gateway's terminal
/// and log sessions are ended (their programs signalled and reaped).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    // hyper-util's GracefulShutdown cannot watch connections that allow upgrades, so each
    // connection task watches this channel itself; the sender learns when all have ended.
    let (stop_connections, _) = tokio::sync::watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BUFFER_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let source_address: Arc<str> = Arc::from(peer.ip().to_string());
                let service = service_fn(move |request| {
                    serve_request(state.clone(), source_address.clone(), request)
                });
                let connection = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                let mut stop = stop_connections.subscribe();
                tokio::spawn(async move {
                    tokio::pin!(connection);
                    let result = tokio::select! {
                        result = connection.as_mut() => result,
                        () = async {
                            let _ = stop.wait_for(|stopping| *stopping).await;
                        } => {
                            connection.as_mut().graceful_shutdown();
                            connection.as_mut().await
                        }
                    };
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    drop(stop);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop_connections.send(true);
    let drained = tokio::time::timeout(grace, async {
        tokio::join!(stop_connections.closed(), state.gateway.shut_down(grace));
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}
