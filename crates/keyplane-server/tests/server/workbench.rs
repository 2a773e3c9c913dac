//! The EAS terminal gateway on a real server: a service whose exec template is a local
//! interactive shell and whose log template prints two lines; tokens asked for with an
//! ACS3-signed `GET …/token`; the terminal WebSocket (`Url`) runs commands on a real PTY
//! (resize, UTF-8, Ctrl-C, exit), burns once, and leaves no process behind when the socket
//! closes; the log WebSocket (`StreamlogUrl`) streams stdout and stderr and closes normally;
//! an idle terminal is closed after the configured timeout; the Workbench URL shows a
//! confirmation page, whose same-origin confirmation sets the session cookie and redirects to
//! the page, and a second opening shows a page and opens nothing; the page's socket requires the cookie and the public origin; every session is
//! audited when it ends. The maximum session length closes a busy terminal, and a shutdown
//! closes running sessions (1001), ends their programs and flushes their audit records.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::Request;
use http_body_util::Full;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::support::{
    create_service_instance_token, init, keyplane, send, words, AliyunCredentials, Server,
};

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What opening a WebSocket answers: the socket and the upgrade response, or the refusal.
pub type Opened = Result<
    (
        Client,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    tokio_tungstenite::tungstenite::Error,
>;

const IDLE_TIMEOUT_SECONDS: u64 = 3;

pub fn register(data_dir: &Path) {
    register_service(
        data_dir,
        "svc",
        "/bin/sh -c 'echo log-line-1; echo log-line-2 >&2'",
        &[],
    );
}

/// Registers in `cn-shanghai` the service `name`, whose terminal is an interactive shell and
/// whose log program is `log`, with its instance `{name}-1` on `worker0`; `extra` is added to
/// both commands.
pub fn register_service(data_dir: &Path, name: &str, log: &str, extra: &[&str]) {
    let create = format!("eas service create --cluster cn-shanghai --name {name}");
    let add = format!(
        "eas instance add --cluster cn-shanghai --service {name} --name {name}-1 --worker worker0"
    );
    for mut arguments in [
        [words(&create), vec!["--exec", "/bin/sh -i", "--log", log]].concat(),
        words(&add),
    ] {
        arguments.extend_from_slice(extra);
        let (success, _, stderr) = keyplane(data_dir, &arguments);
        assert!(success, "{arguments:?}: {stderr}");
    }
}

/// A data directory initialised and holding the service [`register`] makes, with the root's
/// Alibaba key.
pub fn registered_data_dir() -> (tempfile::TempDir, AliyunCredentials) {
    let directory = tempfile::tempdir().unwrap();
    let root = AliyunCredentials::root(&init(directory.path()));
    register(directory.path());
    (directory, root)
}

/// Types `line` into a terminal and reads its output until `needle` (at most `seconds`).
pub async fn run_line(client: &mut Client, line: &str, needle: &str, seconds: u64) -> String {
    client.send(Message::text(line)).await.unwrap();
    read_until(client, needle, seconds).await
}

/// The process id of the shell on a terminal, as the shell says it.
pub async fn shell_process_id(client: &mut Client) -> u32 {
    let output = run_line(client, "echo pid-$$-$((1+1))end\n", "-2end\r\n", 10).await;
    output
        .rsplit("pid-")
        .next()
        .and_then(|rest| rest.split("-2end").next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {output:?}"))
}

/// Asks for tokens; the answer's JSON.
pub async fn tokens(server: &Server, root: &AliyunCredentials) -> Value {
    let reply = create_service_instance_token(
        server.address,
        root,
        "cn-shanghai",
        "svc",
        "svc-1",
        &[("ActionType", "WorkBench"), ("WorkerName", "worker0")],
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()
}

/// Reads terminal output until `needle` appears (or panics after `seconds`); all output read.
pub async fn read_until(client: &mut Client, needle: &str, seconds: u64) -> String {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(seconds), async {
        while let Some(message) = client.next().await {
            match message.expect("a frame") {
                Message::Binary(data) => seen.extend_from_slice(&data),
                Message::Close(frame) => panic!(
                    "closed ({frame:?}) before {needle:?}: {}",
                    String::from_utf8_lossy(&seen)
                ),
                _ => {}
            }
            if String::from_utf8_lossy(&seen).contains(needle) {
                return;
            }
        }
        panic!("the stream ended before {needle:?}");
    })
    .await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(found.is_ok(), "no {needle:?} within {seconds} s: {text:?}");
    text
}

/// Reads until the server's close frame; the output before it and the frame.
pub async fn read_to_close(
    client: &mut Client,
    seconds: u64,
) -> (String, Option<(CloseCode, String)>) {
    let mut seen = Vec::new();
    let close = tokio::time::timeout(Duration::from_secs(seconds), async {
        while let Some(message) = client.next().await {
            match message {
                Ok(Message::Binary(data)) => seen.extend_from_slice(&data),
                Ok(Message::Close(frame)) => {
                    return frame.map(|frame| (frame.code, frame.reason.as_str().to_owned()))
                }
                Ok(_) => {}
                Err(error) => panic!("{error}"),
            }
        }
        None
    })
    .await
    .expect("the server closed the socket in time");
    (String::from_utf8_lossy(&seen).into_owned(), close)
}

pub fn process_exists(process_id: u32) -> bool {
    Path::new(&format!("/proc/{process_id}")).exists()
}

/// The processes whose parent is `parent` (Linux `/proc`).
pub fn children_of(parent: u32) -> Vec<u32> {
    processes_where(|fields| Some(fields.get(1)?.parse::<u32>().ok() == Some(parent)))
}

/// The live processes (Linux `/proc`) whose `stat` fields after the command name (the state
/// first) satisfy `keep`; a process whose `stat` cannot be read or parsed is not kept.
fn processes_where(keep: impl Fn(&[&str]) -> Option<bool>) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|process_id| {
            std::fs::read_to_string(format!("/proc/{process_id}/stat"))
                .ok()
                .and_then(|stat| {
                    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                    keep(&fields)
                })
                == Some(true)
        })
        .collect()
}

/// How many live processes belong to the session led by `leader`; dead ones not yet reaped
/// by their new parent (state Z) are not counted.
pub fn session_members(leader: u32) -> usize {
    processes_where(|fields| {
        Some(fields.first() != Some(&"Z") && fields.get(3)?.parse::<u32>().ok()? == leader)
    })
    .len()
}

pub async fn wait_until(what: &str, seconds: u64, mut condition: impl FnMut() -> bool) {
    for _ in 0..seconds * 20 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within {seconds} s");
}

pub fn audit_lines(data_dir: &Path) -> Vec<Value> {
    let (success, stdout, stderr) = keyplane(data_dir, &["audit"]);
    assert!(success, "{stderr}");
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn terminal_and_log_websockets_run_real_programs_once_and_leave_nothing_behind() {
    let (directory, root) = registered_data_dir();
    let data_dir = directory.path();
    let idle = IDLE_TIMEOUT_SECONDS.to_string();
    let server = Server::start(data_dir, &["--terminal-idle-timeout", &idle]);
    let server_pid = server.child.id();

    let answer = tokens(&server, &root).await;
    let url = answer["Url"].as_str().unwrap().to_owned();
    let (mut client, response) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(response.status(), 101);

    // A command, its output.
    run_line(&mut client, "echo hello-$((6*7))\n", "hello-42", 10).await;
    // The shell's process id, to check it is gone later.
    let shell_pid = shell_process_id(&mut client).await;
    assert!(process_exists(shell_pid));
    // Resize: a control message, then the terminal's size as the shell sees it.
    client
        .send(Message::text(
            "\u{1e}{\"type\":\"resize\",\"cols\":123,\"rows\":45}",
        ))
        .await
        .unwrap();
    client.send(Message::text("stty size\n")).await.unwrap();
    read_until(&mut client, "45 123", 10).await;
    // UTF-8 both ways, in a binary frame.
    client
        .send(Message::binary("echo grüße-€-日本\n".as_bytes().to_vec()))
        .await
        .unwrap();
    let output = read_until(&mut client, "grüße-€-日本\r\n", 10).await;
    assert!(output.contains("grüße-€-日本"));
    // Ctrl-C interrupts a foreground command.
    client.send(Message::text("sleep 30\n")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.send(Message::binary(vec![0x03])).await.unwrap();
    run_line(
        &mut client,
        "echo after-$((1+1))-interrupt\n",
        "after-2-interrupt",
        5,
    )
    .await;
    // A background job in its own process group is a process of the session too.
    client.send(Message::text("sleep 300 &\n")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!children_of(server_pid).is_empty());
    assert!(session_members(shell_pid) >= 2);

    // The client goes away: the shell and everything it started are ended and reaped.
    client.close(None).await.unwrap();
    drop(client);
    wait_until("the shell ending", 10, || !process_exists(shell_pid)).await;
    wait_until("every child of the server ending", 10, || {
        children_of(server_pid).is_empty()
    })
    .await;
    wait_until("every process of the terminal's session ending", 10, || {
        session_members(shell_pid) == 0
    })
    .await;

    // The URL cannot be used twice.
    let error = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 403);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or(b""));
            assert!(body.contains("InstanceToken.AlreadyUsed"), "{body}");
        }
        other => panic!("a reused Url was not refused: {other}"),
    }

    // The log stream: stdout and stderr, then a normal close; once.
    let log_url = answer["StreamlogUrl"].as_str().unwrap().to_owned();
    let (mut log, _) = tokio_tungstenite::connect_async(&log_url).await.unwrap();
    let (output, close) = read_to_close(&mut log, 10).await;
    assert!(output.contains("log-line-1\n"), "{output:?}");
    assert!(output.contains("log-line-2\n"), "{output:?}");
    assert_eq!(
        close,
        Some((CloseCode::Normal, "process exited with status 0".to_owned()))
    );
    assert!(tokio_tungstenite::connect_async(&log_url).await.is_err());
    // The log token does not open a terminal.
    let log_token_at_terminal = log_url.replace("/eas/v1/streamlog", "/eas/v1/terminal");
    assert!(tokio_tungstenite::connect_async(&log_token_at_terminal)
        .await
        .is_err());

    // The program exits: a normal close that says how.
    let answer = tokens(&server, &root).await;
    let (mut client, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    client.send(Message::text("exit 3\n")).await.unwrap();
    let (_, close) = read_to_close(&mut client, 10).await;
    assert_eq!(
        close,
        Some((CloseCode::Normal, "process exited with status 3".to_owned()))
    );

    // An idle terminal is closed after the configured timeout, and its shell ended.
    let answer = tokens(&server, &root).await;
    let started = std::time::Instant::now();
    let (mut client, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    let (_, close) = read_to_close(&mut client, IDLE_TIMEOUT_SECONDS + 10).await;
    assert_eq!(close, Some((CloseCode::Away, "idle timeout".to_owned())));
    assert!(started.elapsed() >= Duration::from_secs(IDLE_TIMEOUT_SECONDS));
    wait_until("every child of the server ending", 10, || {
        children_of(server_pid).is_empty()
    })
    .await;

    // Each session was audited when it ended, attributed to the key that asked for the token.
    wait_until("the session audit records", 10, || {
        audit_lines(data_dir)
            .iter()
            .filter(|line| line["action"] == "TerminalSession")
            .count()
            == 3
    })
    .await;
    let lines = audit_lines(data_dir);
    for line in lines
        .iter()
        .filter(|line| line["action"] == "TerminalSession" || line["action"] == "StreamlogSession")
    {
        assert_eq!(line["product"], "eas");
        assert_eq!(line["target"], "cn-shanghai/svc/svc-1/worker0");
        assert_eq!(line["outcome"], "Success");
        assert_eq!(line["key_id"], root.access_key_id.as_str());
        let detail = line["detail"].as_str().unwrap();
        for field in [
            "started=",
            "ended=",
            "bytes_from_client=",
            "bytes_to_client=",
        ] {
            assert!(detail.contains(field), "{detail}");
        }
    }
    // The first terminal's traffic: what was typed, counted exactly, and its output.
    let first = lines
        .iter()
        .find(|line| line["action"] == "TerminalSession")
        .unwrap();
    let detail = first["detail"].as_str().unwrap();
    let typed = [
        "echo hello-$((6*7))\n",
        "echo pid-$$-$((1+1))end\n",
        "stty size\n",
        "echo grüße-€-日本\n",
        "sleep 30\n",
        "\u{3}",
        "echo after-$((1+1))-interrupt\n",
        "sleep 300 &\n",
    ]
    .iter()
    .map(|text| text.len())
    .sum::<usize>();
    assert!(
        detail.contains(&format!("bytes_from_client={typed} ")),
        "{detail}"
    );
    assert!(detail.contains("end=client_closed"), "{detail}");
    assert_eq!(
        lines
            .iter()
            .filter(|line| line["action"] == "StreamlogSession")
            .count(),
        1
    );
}

#[tokio::test]
async fn the_maximum_session_length_and_a_shutdown_end_sessions_and_their_programs() {
    let (directory, root) = registered_data_dir();
    let data_dir = directory.path();
    let server = Server::start(data_dir, &["--terminal-max-session", "2"]);
    let server_pid = server.child.id();

    // Busy, never idle, but no longer than the maximum length.
    let answer = tokens(&server, &root).await;
    let started = std::time::Instant::now();
    let (mut client, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    client
        .send(Message::text("while :; do echo tick; sleep 0.2; done\n"))
        .await
        .unwrap();
    let (output, close) = read_to_close(&mut client, 15).await;
    assert!(output.contains("tick"), "{output:?}");
    assert_eq!(
        close,
        Some((CloseCode::Away, "maximum session length reached".to_owned()))
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    wait_until("every child of the server ending", 10, || {
        children_of(server_pid).is_empty()
    })
    .await;

    // A shutdown closes running sessions (1001) and ends their programs before the server exits.
    let answer = tokens(&server, &root).await;
    let (mut client, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    let shell_pid = shell_process_id(&mut client).await;
    let terminating = tokio::task::spawn_blocking(move || server.terminate());
    let (_, close) = read_to_close(&mut client, 15).await;
    assert_eq!(
        close,
        Some((CloseCode::Away, "server shutting down".to_owned()))
    );
    assert!(terminating.await.unwrap().success());
    assert!(!process_exists(shell_pid) && session_members(shell_pid) == 0);
    // The session's audit record was flushed before the server stopped.
    let sessions = audit_lines(data_dir)
        .into_iter()
        .filter(|line| line["action"] == "TerminalSession")
        .count();
    assert_eq!(sessions, 2);
}

/// `GET` with optional cookie and origin headers, for the browser routes.
pub fn get(path: &str, cookie: Option<&str>) -> Request<Full<Bytes>> {
    let mut builder = Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Full::new(Bytes::new())).unwrap()
}

/// The confirmation page's value and cookie for a Workbench URL's path (asserting it is one).
pub async fn confirmation_page(address: std::net::SocketAddr, path: &str) -> (String, String) {
    let page = send(address, get(path, None)).await;
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let value = html
        .split("name=\"confirmation\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no confirmation value in {html}"))
        .to_owned();
    let cookie = page.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("keyplane_workbench_confirm="),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    (value, pair)
}

/// Posts the confirmation of a Workbench URL's path, as its page does, with `origin`.
pub async fn post_confirmation(
    address: std::net::SocketAddr,
    path: &str,
    origin: &str,
    value: &str,
    cookie: &str,
) -> super::support::Reply {
    let token = path.split("token=").nth(1).unwrap();
    let request = Request::post("/eas/workbench")
        .header("origin", origin)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(format!(
            "token={token}&confirmation={value}"
        ))))
        .unwrap();
    send(address, request).await
}

/// Opens a Workbench URL's path as a browser does (the page, then its button): the reply to
/// the confirmation.
pub async fn open_workbench(address: std::net::SocketAddr, path: &str) -> super::support::Reply {
    let (value, cookie) = confirmation_page(address, path).await;
    confirm_same_origin(address, path, &value, &cookie).await
}

/// Opens the Workbench page's terminal socket with `origin` and the session `cookie`, if any.
pub fn session_terminal(
    address: std::net::SocketAddr,
    origin: &str,
    cookie: Option<&str>,
) -> impl std::future::Future<Output = Opened> {
    let mut request = format!("ws://{address}/eas/v1/session-terminal")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
}

/// Posts the confirmation of a Workbench URL's path from the server's own origin.
pub async fn confirm_same_origin(
    address: std::net::SocketAddr,
    path: &str,
    value: &str,
    cookie: &str,
) -> super::support::Reply {
    post_confirmation(address, path, &format!("http://{address}"), value, cookie).await
}

#[tokio::test]
async fn the_workbench_url_opens_a_browser_session_once() {
    let (directory, root) = registered_data_dir();
    let data_dir = directory.path();
    let server = Server::start(data_dir, &[]);
    let answer = tokens(&server, &root).await;
    let workbench_url = answer["WorkbenchUrl"].as_str().unwrap();
    let base = format!("http://{}", server.address);
    let path = workbench_url.strip_prefix(&base).unwrap();

    // The page's socket refuses a request without a session, before anything is opened.
    let error = session_terminal(server.address, &base, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, tokio_tungstenite::tungstenite::Error::Http(response) if response.status() == 401),
        "{error}"
    );

    // HEAD (a link checker) does not spend the URL.
    let head = Request::head(path).body(Full::new(Bytes::new())).unwrap();
    assert_eq!(send(server.address, head).await.status, 405);
    let reply = open_workbench(server.address, path).await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.headers["location"], "workbench/terminal");
    let cookie = reply.headers["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/eas", "Max-Age=3600"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert!(
        pair.starts_with("keyplane_workbench=") && pair.len() > 40,
        "{pair}"
    );

    // The page and its assets, under a strict policy.
    let page = send(server.address, get("/eas/workbench/terminal", Some(&pair))).await;
    assert_eq!(page.status, 200);
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("default-src 'none'"));
    assert!(String::from_utf8_lossy(&page.body).contains("assets/xterm.js"));
    let script = send(server.address, get("/eas/workbench/assets/xterm.js", None)).await;
    assert_eq!(script.status, 200);
    assert!(script.body.len() > 100_000);

    // Opening the URL again shows a page and sets no cookie.
    let again = send(server.address, get(path, None)).await;
    assert_eq!(again.status, 403);
    assert!(again.headers.get("set-cookie").is_none());
    assert!(String::from_utf8_lossy(&again.body).contains("already been used"));
    let forged = send(
        server.address,
        get("/eas/workbench?token=not-a-token", None),
    )
    .await;
    assert_eq!(forged.status, 401);

    // The page's socket: the cookie and the public origin, both required.
    let connect =
        |origin: &str, cookie: Option<&str>| session_terminal(server.address, origin, cookie);
    let error = connect("http://evil.example", Some(&pair))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, tokio_tungstenite::tungstenite::Error::Http(response) if response.status() == 403),
        "{error}"
    );
    let (mut client, _) = connect(&base, Some(&pair)).await.unwrap();
    client
        .send(Message::binary(b"echo hello-$((6*7))\n".to_vec()))
        .await
        .unwrap();
    read_until(&mut client, "hello-42", 10).await;
    client.close(None).await.unwrap();
}

#[test]
fn terminal_limits_come_from_flags_then_the_file_then_defaults() {
    let resolve = super::support::resolve_with_file;
    let defaults = super::support::resolve_serve_arguments(&[])
        .unwrap()
        .gateway;
    assert_eq!(defaults.idle_timeout, Duration::from_secs(900));
    assert_eq!(defaults.max_session, Duration::from_secs(3600));

    let contents = "terminal_idle_timeout_seconds = 60\nterminal_max_session_seconds = 600\n";
    let from_file = resolve(contents, &[]).unwrap().gateway;
    assert_eq!(from_file.idle_timeout, Duration::from_secs(60));
    assert_eq!(from_file.max_session, Duration::from_secs(600));
    let from_flags = resolve(
        contents,
        &[
            "--terminal-idle-timeout",
            "5",
            "--terminal-max-session",
            "50",
        ],
    )
    .unwrap()
    .gateway;
    assert_eq!(from_flags.idle_timeout, Duration::from_secs(5));
    assert_eq!(from_flags.max_session, Duration::from_secs(50));

    for contents in [
        "terminal_idle_timeout_seconds = 0\n",
        "terminal_max_session_seconds = 604801\n",
    ] {
        let error = format!("{:#}", resolve(contents, &[]).unwrap_err());
        assert!(error.contains("1 to 604800 seconds"), "{contents}: {error}");
    }
}

#[tokio::test]
async fn an_expired_workbench_url_or_browser_session_opens_nothing() {
    let (directory, root) = registered_data_dir();
    let data_dir = directory.path();
    let server = Server::start(
        data_dir,
        &["--instance-token-ttl", "1", "--terminal-max-session", "2"],
    );
    let base = format!("http://{}", server.address);
    let path_of = |answer: &Value| {
        answer["WorkbenchUrl"]
            .as_str()
            .unwrap()
            .strip_prefix(&base)
            .unwrap()
            .to_owned()
    };

    // A Workbench URL opened after its token expired: a page that says so, no cookie.
    let late = path_of(&tokens(&server, &root).await);
    // Opened in time: a browser session that itself expires after the maximum length.
    let reply = open_workbench(server.address, &path_of(&tokens(&server, &root).await)).await;
    assert_eq!(reply.status, 303);
    let cookie = reply.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Max-Age=2"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let expired = send(server.address, get(&late, None)).await;
    assert_eq!(expired.status, 403);
    assert!(expired.headers.get("set-cookie").is_none());
    assert!(String::from_utf8_lossy(&expired.body).contains("has expired"));

    let error = session_terminal(server.address, &base, Some(&pair))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, tokio_tungstenite::tungstenite::Error::Http(response) if response.status() == 401),
        "{error}"
    );
    assert!(children_of(server.child.id()).is_empty());
}
