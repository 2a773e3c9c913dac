//! The two bridges that run on a gateway WebSocket: a terminal, and a log stream.
//!
//! The terminal protocol: binary frames carry terminal bytes both ways (the server sends only
//! binary frames, so UTF-8 split across reads is reassembled by the client); a client text
//! frame is terminal input as UTF-8, unless it starts with U+001E (ASCII record separator),
//! in which case the rest is a JSON control message — `{"type":"resize","cols":120,"rows":40}`
//! is the only one (a literal RS is sent to the terminal in a binary frame). Ctrl-C is the byte
//! 0x03 like any other. The server closes with 1000 (normal) when the program exits, with 1001
//! (going away) on the idle timeout, the maximum session length or a server shutdown, 1008
//! (policy violation) when the credential that opened the session was revoked, and 1011 when
//! the program could not be started.
//!
//! The log stream: the log program's standard output and error as binary frames in the order
//! they arrive, then a normal close when both end. Whatever the client sends is ignored.
//!
//! No send can hold up the loop that enforces the limits: frames to the client go through a
//! small bounded queue to a writer task that owns the socket's sink, and the loop reads more
//! output only once the queue has room (a client that stops reading stalls its program, not
//! the loop); terminal input goes to the program the same way. When the session ends, the
//! close frame is queued, the writer gets a moment to flush, and is then aborted whatever the
//! client does.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use super::control::{parse_client_text, ClientText};
use super::process::{
    spawn_log, spawn_terminal, LogProcess, SessionLeader, SessionUser, SpawnError, TerminalProcess,
};
use super::websocket::Socket;

/// How much terminal or log output one frame carries at most.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// How many output frames may wait for the client (at most this × [`READ_CHUNK_BYTES`]).
const OUTPUT_QUEUE: usize = 16;
/// After the program exits, how long its last output may take to arrive.
const EXIT_DRAIN: Duration = Duration::from_millis(300);
/// How long the writer has, once the session ended, to send what is queued and the close.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);
/// The terminal size before the client's first resize.
const INITIAL_COLUMNS: u16 = 80;
const INITIAL_ROWS: u16 = 24;
/// How many client messages may wait for the terminal to take them.
const INPUT_QUEUE: usize = 64;

/// The limits a session runs under.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// `None` for no idle limit (the log stream).
    pub idle_timeout: Option<Duration>,
    pub deadline: Instant,
}

/// What can end a session from outside: a server shutdown, or a revocation of the credential
/// that opened it. Either becomes `true` once.
#[derive(Debug)]
pub struct SessionControl {
    pub shutdown: watch::Receiver<bool>,
    pub revoked: watch::Receiver<bool>,
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
    /// The key or principal that opened the session lost its access.
    Revoked,
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
            SessionEnd::Revoked => "revoked".to_owned(),
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
            SessionEnd::Revoked => Some(CloseCode::Policy),
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

/// The sending half of a session's socket: a bounded queue to the task that owns the sink.
struct Outgoing {
    queue: mpsc::Sender<Message>,
    writer: JoinHandle<()>,
}

impl Outgoing {
    fn start(sink: SplitSink<Socket, Message>) -> Self {
        let (queue, mut receiver) = mpsc::channel::<Message>(OUTPUT_QUEUE);
        let writer = tokio::spawn(async move {
            let mut sink = sink;
            while let Some(message) = receiver.recv().await {
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
        });
        Self { queue, writer }
    }

    /// Room for one more frame, when the queue has it (never waits).
    fn has_room(&self) -> bool {
        self.queue.capacity() > 0
    }

    /// Queues a frame; `false` when the writer is gone (the client left).
    fn push(&self, message: Message) -> bool {
        match self.queue.try_send(message) {
            Ok(()) => true,
            // Only this session's loop pushes, and only after `has_room`.
            Err(mpsc::error::TrySendError::Full(_)) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Resolves once the queue has room again: `true`, or `false` when the writer is gone.
    async fn room(&self) -> bool {
        self.queue.reserve().await.is_ok()
    }

    /// Queues the close frame that `end` calls for (none when the client closed: tungstenite
    /// has answered its close already), gives the writer [`CLOSE_FLUSH`] to send everything,
    /// then aborts it, and lets the client's side of the closing handshake arrive briefly.
    async fn close(self, mut stream: SplitStream<Socket>, end: &SessionEnd) {
        let deadline = Instant::now() + CLOSE_FLUSH;
        if let Some(code) = end.close_code() {
            let frame = CloseFrame {
                code,
                reason: end.describe().into(),
            };
            let _ = tokio::time::timeout_at(deadline, self.queue.send(Message::Close(Some(frame))))
                .await;
        }
        drop(self.queue);
        let mut writer = self.writer;
        if tokio::time::timeout_at(deadline, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
            return;
        }
        let _ = tokio::time::timeout_at(deadline, async {
            while let Some(Ok(_)) = stream.next().await {}
        })
        .await;
    }
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

/// Resolves when `receiver` turns `true` (never, once its sender is gone without that).
async fn became_true(receiver: &mut watch::Receiver<bool>) {
    if receiver.wait_for(|value| *value).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What both bridges hold once their program started: the report so far, the queue to the
/// client, the client's messages and the program.
struct Started<Process> {
    report: SessionReport,
    outgoing: Outgoing,
    stream: SplitStream<Socket>,
    process: Process,
}

impl<Process> Started<Process> {
    /// The report so far, the queue to the client, the client's messages and the program.
    fn into_parts(self) -> (SessionReport, Outgoing, SplitStream<Socket>, Process) {
        (self.report, self.outgoing, self.stream, self.process)
    }

    /// Splits `socket` and starts the `kind` program with `spawn`; when it cannot start, the
    /// client is told so (1011) and the session's report is the error.
    async fn spawn(
        socket: Socket,
        kind: &str,
        spawn: impl FnOnce() -> Result<Process, SpawnError>,
    ) -> Result<Self, SessionReport> {
        let mut report = SessionReport {
            end: SessionEnd::ClientClosed,
            bytes_from_client: 0,
            bytes_to_client: 0,
        };
        let (sink, stream) = socket.split();
        let outgoing = Outgoing::start(sink);
        match spawn() {
            Ok(process) => Ok(Self {
                report,
                outgoing,
                stream,
                process,
            }),
            Err(error) => {
                tracing::warn!(%error, "the {kind} command could not be started");
                report.end = SessionEnd::StartFailed(error.to_string());
                outgoing.close(stream, &report.end).await;
                Err(report)
            }
        }
    }
}

/// Resolves with the end that comes from outside a session: its maximum length, a server
/// shutdown, or the revocation of the credential that opened it.
async fn ended_from_outside(deadline: Instant, control: &mut SessionControl) -> SessionEnd {
    tokio::select! {
        () = tokio::time::sleep_until(deadline) => SessionEnd::MaximumLength,
        () = became_true(&mut control.shutdown) => SessionEnd::ServerShutdown,
        () = became_true(&mut control.revoked) => SessionEnd::Revoked,
    }
}

/// How both bridges end: the program's whole session is ended, the close frame queued and
/// flushed, and the report completed with how the session ended.
async fn finish(
    leader: SessionLeader,
    outgoing: Outgoing,
    stream: SplitStream<Socket>,
    end: SessionEnd,
    mut report: SessionReport,
) -> SessionReport {
    leader.terminate().await;
    outgoing.close(stream, &end).await;
    report.end = end;
    report
}

/// Which bridge a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bridge {
    /// `command` on a new pseudo-terminal, bridged both ways.
    Terminal,
    /// The output of `command`, streamed to the client.
    Log,
}

/// Runs `bridge` on `socket` for `command` (as `user`, when set) until either side ends or a
/// limit is reached, then ends the program's whole session (see `process`).
pub async fn run(
    bridge: Bridge,
    socket: Socket,
    command: &[String],
    user: Option<&SessionUser>,
    limits: SessionLimits,
    control: SessionControl,
) -> SessionReport {
    // A program that could not start ends the session with its report.
    match bridge {
        Bridge::Terminal => {
            let spawn = || spawn_terminal(command, user, INITIAL_COLUMNS, INITIAL_ROWS);
            match Started::spawn(socket, "terminal", spawn).await {
                Ok(started) => run_terminal(started, limits, control).await,
                Err(report) => report,
            }
        }
        Bridge::Log => match Started::spawn(socket, "log", || spawn_log(command, user)).await {
            Ok(started) => run_log(started, limits, control).await,
            Err(report) => report,
        },
    }
}

/// Bridges the client to the program on its pseudo-terminal.
async fn run_terminal(
    started: Started<TerminalProcess>,
    limits: SessionLimits,
    mut control: SessionControl,
) -> SessionReport {
    let (mut report, outgoing, mut stream, process) = started.into_parts();
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
        let output_room = outgoing.has_room();
        let input_room = input_sender.capacity() > 0;
        tokio::select! {
            read = reader.read(&mut buffer), if output_room => match read {
                Ok(count) if count > 0 => {
                    if !outgoing.push(Message::Binary(Bytes::copy_from_slice(&buffer[..count]))) {
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
            open = outgoing.room(), if !output_room => {
                if !open {
                    break SessionEnd::ClientClosed;
                }
            }
            message = stream.next(), if input_room => match message {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break SessionEnd::ClientClosed,
                Some(Ok(message)) => {
                    if let Some(input) = terminal_input(message) {
                        if let TerminalInput::Data(data) = &input {
                            report.bytes_from_client += data.len() as u64;
                            idle_deadline = limits.idle_timeout.map(|idle| Instant::now() + idle);
                        }
                        if let Err(mpsc::error::TrySendError::Closed(_)) = input_sender.try_send(input) {
                            break SessionEnd::ProgramExited(exit.flatten());
                        }
                    }
                }
            },
            permit = input_sender.reserve(), if !input_room => {
                if permit.is_err() {
                    break SessionEnd::ProgramExited(exit.flatten());
                }
            }
            status = leader.wait(), if exit.is_none() => {
                exit = Some(status.ok().flatten());
                drain_deadline = Some(Instant::now() + EXIT_DRAIN);
            }
            () = sleep_until_optional(drain_deadline) => break SessionEnd::ProgramExited(exit.flatten()),
            () = sleep_until_optional(idle_deadline) => break SessionEnd::IdleTimeout,
            end = ended_from_outside(limits.deadline, &mut control) => break end,
        }
    };
    drop(input_sender);
    writer_task.abort();
    let _ = writer_task.await;
    drop(reader);
    finish(leader, outgoing, stream, end, report).await
}

/// Streams the program's output to the client; whatever the client sends is ignored.
async fn run_log(
    started: Started<LogProcess>,
    limits: SessionLimits,
    mut control: SessionControl,
) -> SessionReport {
    let (mut report, outgoing, mut stream, process) = started.into_parts();
    let mut leader = process.leader;
    let (mut stdout, mut stderr) = (Some(process.stdout), Some(process.stderr));
    let mut stdout_buffer = vec![0_u8; READ_CHUNK_BYTES];
    let mut stderr_buffer = vec![0_u8; READ_CHUNK_BYTES];
    let end = loop {
        let room = outgoing.has_room();
        let (output, count) = tokio::select! {
            read = async { stdout.as_mut()?.read(&mut stdout_buffer).await.ok() }, if room && stdout.is_some() => {
                (0, read)
            }
            read = async { stderr.as_mut()?.read(&mut stderr_buffer).await.ok() }, if room && stderr.is_some() => {
                (1, read)
            }
            open = outgoing.room(), if !room => {
                if open {
                    continue;
                }
                break SessionEnd::ClientClosed;
            }
            message = stream.next() => match message {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break SessionEnd::ClientClosed,
                Some(Ok(_)) => continue,
            },
            end = ended_from_outside(limits.deadline, &mut control) => break end,
        };
        match count {
            Some(count) if count > 0 => {
                let chunk = if output == 0 {
                    &stdout_buffer[..count]
                } else {
                    &stderr_buffer[..count]
                };
                if !outgoing.push(Message::Binary(Bytes::copy_from_slice(chunk))) {
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
                        end = ended_from_outside(limits.deadline, &mut control) => break end,
                    };
                    break SessionEnd::ProgramExited(code);
                }
            }
        }
    };
    drop((stdout, stderr));
    finish(leader, outgoing, stream, end, report).await
}
