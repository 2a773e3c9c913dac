//! WebSockets over hyper's HTTP/1.1 upgrade (RFC 6455 handshake checked here, frames by
//! tokio-tungstenite), and the two bridges that run on them.
//!
//! The terminal protocol: binary frames carry terminal bytes both ways (the server sends only
//! binary frames, so UTF-8 split across reads is reassembled by the client); a client text
//! frame is terminal input as UTF-8, unless it starts with U+001E (ASCII record separator),
//! in which case the rest is a JSON control message — `{"type":"resize","cols":120,"rows":40}`
//! is the only one (a literal RS is sent to the terminal in a binary frame). Ctrl-C is the byte
//! 0x03 like any other. The server closes with 1000 (normal) when the program exits, with 1001
//! (going away) on the idle timeout, the maximum session length or a server shutdown, and
//! 1011 when the program could not be started.
//!
//! The log stream: the log program's standard output and error as binary frames in the order
//! they arrive, then a normal close when both end. Whatever the client sends is ignored.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::control::{parse_client_text, ClientText};
use super::process::{spawn_log, spawn_terminal};

/// The largest message a client may send.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// How much terminal or log output one frame carries at most.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// After the program exits, how long its last output may take to arrive.
const EXIT_DRAIN: Duration = Duration::from_millis(300);
/// The terminal size before the client's first resize.
const INITIAL_COLUMNS: u16 = 80;
const INITIAL_ROWS: u16 = 24;
/// How many client messages may wait for the terminal to take them.
const INPUT_QUEUE: usize = 64;

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

/// The limits a session runs under.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// `None` for no idle limit (the log stream).
    pub idle_timeout: Option<Duration>,
    pub deadline: Instant,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The program exited (its exit code, when it had one).
    ProgramExited(Option<i32>),
    ClientClosed,
    IdleTimeout,
    MaximumLength,
    ServerShutdown,
    StartFailed(String),
}

impl SessionEnd {
    /// The audit outcome.
    pub fn outcome(&self) -> &'static str {
        match self {
            SessionEnd::StartFailed(_) => "StartFailed",
            _ => "Success",
        }
    }

    /// A short description for the audit detail and the close frame.
    pub fn describe(&self) -> String {
        match self {
            SessionEnd::ProgramExited(Some(code)) => format!("process exited with status {code}"),
            SessionEnd::ProgramExited(None) => "process ended by a signal".to_owned(),
            SessionEnd::ClientClosed => "client closed".to_owned(),
            SessionEnd::IdleTimeout => "idle timeout".to_owned(),
            SessionEnd::MaximumLength => "maximum session length reached".to_owned(),
            SessionEnd::ServerShutdown => "server shutting down".to_owned(),
            SessionEnd::StartFailed(_) => "the command could not be started".to_owned(),
        }
    }

    fn close_code(&self) -> Option<CloseCode> {
        match self {
            SessionEnd::ProgramExited(_) => Some(CloseCode::Normal),
            SessionEnd::ClientClosed => None,
            SessionEnd::IdleTimeout | SessionEnd::MaximumLength | SessionEnd::ServerShutdown => {
                Some(CloseCode::Away)
            }
            SessionEnd::StartFailed(_) => Some(CloseCode::Error),
        }
    }
}

/// What a session did, for its audit record.
#[derive(Debug, Clone)]
pub struct SessionReport {
    pub end: SessionEnd,
    pub bytes_from_client: u64,
    pub bytes_to_client: u64,
}

/// Sends the close frame that `end` calls for (none when the client closed: tungstenite has
/// answered its close already) and lets the closing handshake finish briefly.
async fn close(socket: &mut Socket, end: &SessionEnd) {
    if let Some(code) = end.close_code() {
        let frame = CloseFrame {
            code,
            reason: end.describe().into(),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
}

/// What the terminal writer task is given.
enum TerminalInput {
    Data(Bytes),
    Resize { columns: u16, rows: u16 },
}

/// Reads a client message as terminal input; `None` for frames that carry none.
fn terminal_input(message: Message) -> Option<TerminalInput> {
    match message {
        Message::Binary(data) => Some(TerminalInput::Data(data)),
        Message::Text(text) => match parse_client_text(text.as_str()) {
            ClientText::Input(input) => Some(TerminalInput::Data(Bytes::copy_from_slice(
                input.as_bytes(),
            ))),
            ClientText::Resize { columns, rows } => Some(TerminalInput::Resize { columns, rows }),
            ClientText::Malformed(error) => {
                tracing::debug!(%error, "ignoring a malformed terminal control message");
                None
            }
        },
        _ => None,
    }
}

async fn sleep_until_optional(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Bridges `socket` to `command` on a new pseudo-terminal until either side ends or a limit
/// is reached, then ends the program's whole session (see `process`).
pub async fn run_terminal(
    mut socket: Socket,
    command: &[String],
    limits: SessionLimits,
    mut shutdown: watch::Receiver<bool>,
) -> SessionReport {
    let mut report = SessionReport {
        end: SessionEnd::ClientClosed,
        bytes_from_client: 0,
        bytes_to_client: 0,
    };
    let process = match spawn_terminal(command, INITIAL_COLUMNS, INITIAL_ROWS) {
        Ok(process) => process,
        Err(error) => {
            tracing::warn!(%error, "the terminal command could not be started");
            report.end = SessionEnd::StartFailed(error.to_string());
            close(&mut socket, &report.end).await;
            return report;
        }
    };
    let mut leader = process.leader;
    let (mut reader, mut writer) = process.terminal.into_split();
    let (input_sender, mut input_receiver) = mpsc::channel::<TerminalInput>(INPUT_QUEUE);
    let writer_task = tokio::spawn(async move {
        while let Some(input) = input_receiver.recv().await {
            match input {
                TerminalInput::Data(data) => {
                    if writer.write_all(&data).await.is_err() {
                        break;
                    }
                }
                TerminalInput::Resize { columns, rows } => {
                    if let Err(error) = writer.resize(pty_process::Size::new(rows, columns)) {
                        tracing::debug!(%error, "resizing the terminal failed");
                    }
                }
            }
        }
    });
    let mut buffer = vec![0_u8; READ_CHUNK_BYTES];
    let mut idle_deadline = limits.idle_timeout.map(|idle| Instant::now() + idle);
    let mut exit: Option<Option<i32>> = None;
    let mut drain_deadline: Option<Instant> = None;
    let end = loop {
        tokio::select! {
            read = reader.read(&mut buffer) => match read {
                Ok(count) if count > 0 => {
                    if socket
                        .send(Message::Binary(Bytes::copy_from_slice(&buffer[..count])))
                        .await
                        .is_err()
                    {
                        break SessionEnd::ClientClosed;
                    }
                    report.bytes_to_client += count as u64;
                    idle_deadline = limits.idle_timeout.map(|idle| Instant::now() + idle);
                }
                // End of output (EIO once every holder of the terminal has closed it).
                _ => {
                    let code = match exit {
                        Some(code) => code,
                        None => tokio::time::timeout(EXIT_DRAIN, leader.wait())
                            .await
                            .ok()
                            .and_then(Result::ok)
                            .flatten(),
                    };
                    break SessionEnd::ProgramExited(code);
                }
            },
            message = socket.next() => match message {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break SessionEnd::ClientClosed,
                Some(Ok(message)) => {
                    if let Some(input) = terminal_input(message) {
                        if let TerminalInput::Data(data) = &input {
                            report.bytes_from_client += data.len() as u64;
                            idle_deadline = limits.idle_timeout.map(|idle| Instant::now() + idle);
                        }
                        if input_sender.send(input).await.is_err() {
                            break SessionEnd::ProgramExited(exit.flatten());
                        }
                    }
                }
            },
            status = leader.wait(), if exit.is_none() => {
                exit = Some(status.ok().flatten());
                drain_deadline = Some(Instant::now() + EXIT_DRAIN);
            }
            () = sleep_until_optional(drain_deadline) => break SessionEnd::ProgramExited(exit.flatten()),
            () = sleep_until_optional(idle_deadline) => break SessionEnd::IdleTimeout,
            () = tokio::time::sleep_until(limits.deadline) => break SessionEnd::MaximumLength,
            _ = shutdown.changed() => break SessionEnd::ServerShutdown,
        }
    };
    drop(input_sender);
    writer_task.abort();
    let _ = writer_task.await;
    drop(reader);
    leader.terminate().await;
    close(&mut socket, &end).await;
    report.end = end;
    report
}

/// Streams the output of `command` to `socket` until it ends, the client leaves or a limit is
/// reached, then ends the program's whole session.
pub async fn run_log(
    mut socket: Socket,
    command: &[String],
    limits: SessionLimits,
    mut shutdown: watch::Receiver<bool>,
) -> SessionReport {
    let mut report = SessionReport {
        end: SessionEnd::ClientClosed,
        bytes_from_client: 0,
        bytes_to_client: 0,
    };
    let process = match spawn_log(command) {
        Ok(process) => process,
        Err(error) => {
            tracing::warn!(%error, "the log command could not be started");
            report.end = SessionEnd::StartFailed(error.to_string());
            close(&mut socket, &report.end).await;
            return report;
        }
    };
    let mut leader = process.leader;
    let (mut stdout, mut stderr) = (Some(process.stdout), Some(process.stderr));
    let mut stdout_buffer = vec![0_u8; READ_CHUNK_BYTES];
    let mut stderr_buffer = vec![0_u8; READ_CHUNK_BYTES];
    let end = loop {
        let (output, count) = tokio::select! {
            read = async { stdout.as_mut()?.read(&mut stdout_buffer).await.ok() }, if stdout.is_some() => {
                (0, read)
            }
            read = async { stderr.as_mut()?.read(&mut stderr_buffer).await.ok() }, if stderr.is_some() => {
                (1, read)
            }
            message = socket.next() => match message {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break SessionEnd::ClientClosed,
                Some(Ok(_)) => continue,
            },
            () = tokio::time::sleep_until(limits.deadline) => break SessionEnd::MaximumLength,
            _ = shutdown.changed() => break SessionEnd::ServerShutdown,
        };
        match count {
            Some(count) if count > 0 => {
                let chunk = if output == 0 {
                    &stdout_buffer[..count]
                } else {
                    &stderr_buffer[..count]
                };
                if socket
                    .send(Message::Binary(Bytes::copy_from_slice(chunk)))
                    .await
                    .is_err()
                {
                    break SessionEnd::ClientClosed;
                }
                report.bytes_to_client += count as u64;
            }
            _ => {
                if output == 0 {
                    stdout = None;
                } else {
                    stderr = None;
                }
                if stdout.is_none() && stderr.is_none() {
                    let code = tokio::select! {
                        status = leader.wait() => status.ok().flatten(),
                        () = tokio::time::sleep_until(limits.deadline) => break SessionEnd::MaximumLength,
                    };
                    break SessionEnd::ProgramExited(code);
                }
            }
        }
    };
    drop((stdout, stderr));
    leader.terminate().await;
    close(&mut socket, &end).await;
    report.end = end;
    report
}
