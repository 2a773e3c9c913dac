//! WebSockets over hyper's HTTP/1.1 upgrade: the RFC 6455 handshake is checked here, frames
//! are tokio-tungstenite's. The bridges that run on them are in `bridge`.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// The largest message a client may send.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// A server-side WebSocket.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Why an HTTP request is not a usable WebSocket handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("a WebSocket handshake must be a GET request")]
    NotGet,
    #[error("the request does not ask to upgrade to a WebSocket")]
    NotUpgrade,
    #[error("only WebSocket version 13 is supported")]
    UnsupportedVersion,
    #[error("the Sec-WebSocket-Key header is missing or malformed")]
    MissingKey,
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// Checks a handshake and returns the `Sec-WebSocket-Accept` value to answer with.
pub fn check_handshake(
    method: &http::Method,
    headers: &HeaderMap,
) -> Result<String, HandshakeError> {
    if method != http::Method::GET {
        return Err(HandshakeError::NotGet);
    }
    if !header_has_token(headers, header::CONNECTION, "upgrade")
        || !header_has_token(headers, header::UPGRADE, "websocket")
    {
        return Err(HandshakeError::NotUpgrade);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|version| version.as_bytes() != b"13")
    {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|key| key.as_bytes().trim_ascii())
        .filter(|key| key.len() == 24)
        .ok_or(HandshakeError::MissingKey)?;
    Ok(tokio_tungstenite::tungstenite::handshake::derive_accept_key(key))
}

/// The `101 Switching Protocols` answer.
pub fn switching_protocols(accept: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Waits for hyper to hand over the connection after the 101 was sent.
pub async fn accept(upgrade: hyper::upgrade::OnUpgrade) -> Result<Socket, hyper::Error> {
    let upgraded = upgrade.await?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    Ok(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await)
}
