//! The terminal gateway against hostile or careless clients, on real servers: a client that
//! runs `yes` and stops reading is still cut off by the session limits; session programs run
//! as an unprivileged user that cannot read the master key, the database or the server's
//! environment; caps on terminals per browser session, running sessions and browser sessions
//! refuse (and burn nothing) instead of evicting; a Workbench URL burns nothing on GET and
//! opens only on a same-origin confirmation (revocation: `gateway_revocation`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::support::{create_service_instance_token, init, AliyunCredentials, Server};
use super::workbench::{
    children_of, confirm_same_origin, confirmation_page, get, open_workbench, post_confirmation,
    read_until, register_service, registered_data_dir, run_line, session_terminal, tokens,
    wait_until, Opened,
};

/// A service whose terminal is a shell and whose log program never stops printing.
pub fn register_flooding(data_dir: &Path, extra: &[&str]) {
    register_service(data_dir, "flood", "yes log-flood-line", extra);
}

/// A data directory initialised and holding the service [`register_flooding`] makes, with the
/// root's Alibaba key.
fn flooding_data_dir() -> (tempfile::TempDir, AliyunCredentials) {
    let directory = tempfile::tempdir().unwrap();
    let root = AliyunCredentials::root(&init(directory.path()));
    register_flooding(directory.path(), &[]);
    (directory, root)
}

pub async fn flood_tokens(address: SocketAddr, credentials: &AliyunCredentials) -> Value {
    let reply = create_service_instance_token(
        address,
        credentials,
        "cn-shanghai",
        "flood",
        "flood-1",
        &[("WorkerName", "worker0")],
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_within_the_session_limits() {
    let (directory, root) = flooding_data_dir();
    let data_dir = directory.path();
    const MAX_SESSION_SECONDS: u64 = 3;
    let server = Server::start(data_dir, &["--terminal-max-session", "3"]);
    let server_pid = server.child.id();

    // A terminal running `yes`, and a log stream that never stops: neither client reads.
    let answer = flood_tokens(server.address, &root).await;
    let started = Instant::now();
    let (mut terminal, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    terminal.send(Message::text("yes\n")).await.unwrap();
    let (log, _) = tokio_tungstenite::connect_async(answer["StreamlogUrl"].as_str().unwrap())
        .await
        .unwrap();
    wait_until("the programs starting", 5, || {
        children_of(server_pid).len() >= 2
    })
    .await;
    let margin = 6;
    wait_until(
        "the sessions of clients that stopped reading ending",
        MAX_SESSION_SECONDS + margin,
        || children_of(server_pid).is_empty(),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(MAX_SESSION_SECONDS + margin));
    drop((terminal, log));
}

#[tokio::test]
async fn an_idle_limit_cuts_off_a_client_that_stops_reading() {
    let (directory, root) = flooding_data_dir();
    let data_dir = directory.path();
    let server = Server::start(data_dir, &["--terminal-idle-timeout", "2"]);
    let server_pid = server.child.id();
    let answer = flood_tokens(server.address, &root).await;
    let (mut terminal, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    terminal.send(Message::text("yes\n")).await.unwrap();
    wait_until("the shell starting", 5, || {
        !children_of(server_pid).is_empty()
    })
    .await;
    wait_until("the stalled terminal ending", 2 + 8, || {
        children_of(server_pid).is_empty()
    })
    .await;
    drop(terminal);
}

#[tokio::test]
async fn session_programs_cannot_read_the_master_key_the_database_or_the_servers_environment() {
    if !rustix::process::getuid().is_root() {
        println!("session user test: SKIPPED, the tests do not run as root");
        return;
    }
    let (directory, root) = registered_data_dir();
    let data_dir = directory.path();
    let server = Server::start(data_dir, &[]);
    let server_pid = server.child.id();
    let master_key = std::fs::read_to_string(data_dir.join("master.key")).unwrap();
    let master_key = master_key.trim();
    assert!(master_key.len() > 20);

    let answer = tokens(&server, &root).await;
    let (mut client, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    let data = data_dir.display();
    client
        .send(Message::text(format!(
            "echo uid=$(id -u)=; echo groups=$(id -G)=; echo cwd=$(pwd); tty; test -w \"$(tty)\" && echo pty-is-writable; \
             cat {data}/master.key; head -c 64 {data}/keyplane.db; \
             cat /proc/{server_pid}/environ; echo done-$((6*7))\n"
        )))
        .await
        .unwrap();
    let output = read_until(&mut client, "done-42", 10).await;
    assert!(!output.contains(master_key), "{output}");
    assert!(!output.contains("SQLite format"), "{output}");
    assert!(!output.contains("KEYPLANE_LOG"), "{output}");
    assert!(output.matches("Permission denied").count() >= 3, "{output}");
    let uid: u32 = output
        .rsplit("uid=")
        .next()
        .and_then(|rest| rest.split('=').next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no uid in {output}"));
    assert_ne!(uid, 0, "{output}");
    assert!(output.contains("pty-is-writable"), "{output}");
    // No supplementary groups: the primary group only.
    let groups = output
        .rsplit("groups=")
        .next()
        .and_then(|rest| rest.split('=').next())
        .unwrap();
    assert_eq!(groups.split_whitespace().count(), 1, "{output}");
    assert_ne!(groups.trim(), "0", "{output}");
    assert!(output.contains("cwd=/\r"), "{output}");
    client.close(None).await.unwrap();
}

/// Opens the page's terminal socket from the server's own origin with the session `cookie`.
pub fn connect_session_terminal(
    address: SocketAddr,
    cookie: &str,
) -> impl std::future::Future<Output = Opened> {
    session_terminal(address, &format!("http://{address}"), Some(cookie))
}

/// The status and body of a refused WebSocket opening.
pub fn refused_status(result: Opened) -> (u16, String) {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => (
            response.status().as_u16(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or(b"")).into_owned(),
        ),
        Err(other) => panic!("not an HTTP refusal: {other}"),
        Ok(_) => panic!("the connection was accepted"),
    }
}

pub fn path_of(address: SocketAddr, answer: &Value) -> String {
    answer["WorkbenchUrl"]
        .as_str()
        .unwrap()
        .strip_prefix(&format!("http://{address}"))
        .unwrap()
        .to_owned()
}

pub fn session_cookie(reply: &super::support::Reply) -> String {
    reply.assert_status(303);
    let cookie = reply.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("keyplane_workbench="), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn caps_refuse_new_sessions_instead_of_evicting_and_burn_nothing() {
    let (directory, root) = registered_data_dir();
    let data_dir = directory.path();
    let server = Server::start(
        data_dir,
        &["--max-running-sessions", "2", "--max-browser-sessions", "1"],
    );
    let address = server.address;

    // One terminal per browser session by default.
    let cookie = session_cookie(
        &open_workbench(address, &path_of(address, &tokens(&server, &root).await)).await,
    );
    let (mut first, _) = connect_session_terminal(address, &cookie).await.unwrap();
    run_line(&mut first, "echo first-$((1+1))\n", "first-2", 10).await;
    let (status, body) = refused_status(connect_session_terminal(address, &cookie).await);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Throttling.Sessions"), "{body}");

    // The browser-session table is full: a second Workbench URL is refused, not spent, and
    // the first session still works.
    let second_path = path_of(address, &tokens(&server, &root).await);
    let refused = open_workbench(address, &second_path).await;
    assert_eq!(refused.status, 503);
    assert!(refused.headers.get("set-cookie").is_none());
    confirmation_page(address, &second_path).await;

    // At most two running sessions: a third is refused before its token is redeemed.
    let answer = tokens(&server, &root).await;
    let (mut second, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    let third = tokens(&server, &root).await;
    let (status, body) =
        refused_status(tokio_tungstenite::connect_async(third["Url"].as_str().unwrap()).await);
    assert_eq!(status, 503, "{body}");
    // A slot freed, the refused token opens.
    second.close(None).await.unwrap();
    drop(second);
    let mut opened = None;
    for _ in 0..50 {
        match tokio_tungstenite::connect_async(third["Url"].as_str().unwrap()).await {
            Ok((client, _)) => {
                opened = Some(client);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let mut third_client = opened.expect("the refused token opens once a slot is free");
    run_line(&mut third_client, "echo third-$((1+2))\n", "third-3", 10).await;
    run_line(&mut first, "echo still-$((2+2))\n", "still-4", 10).await;
}

#[tokio::test]
async fn a_workbench_url_opens_only_on_a_same_origin_confirmation() {
    let (directory, root) = registered_data_dir();
    let data_dir = directory.path();
    let server = Server::start(data_dir, &[]);
    let address = server.address;
    let path = path_of(address, &tokens(&server, &root).await);

    // Plain GETs (a link previewer, twice) burn nothing, and the page says what it opens.
    let preview = super::support::send(address, get(&path, None)).await;
    assert_eq!(preview.status, 200);
    let html = String::from_utf8_lossy(&preview.body);
    for shown in [
        "cn-shanghai/svc",
        "svc-1",
        "worker0",
        root.access_key_id.as_str(),
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
    let policy = preview.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'none'") && policy.contains("form-action 'self'"));
    let (value, cookie) = confirmation_page(address, &path).await;

    // A cross-site post (with the victim's cookies even), a post with no origin at all, a
    // post with another page's value: refused, nothing spent.
    for (origin, value, cookie) in [
        ("http://evil.example", value.as_str(), cookie.as_str()),
        ("null", value.as_str(), cookie.as_str()),
        (
            &format!("http://{address}") as &str,
            "forged-value",
            cookie.as_str(),
        ),
        (
            &format!("http://{address}"),
            value.as_str(),
            "keyplane_workbench_confirm=other",
        ),
    ] {
        let reply = post_confirmation(address, &path, origin, value, cookie).await;
        assert_eq!(reply.status, 403, "{origin} {value} {cookie}");
        assert!(reply.headers.get("set-cookie").is_none());
    }
    let token = path.split("token=").nth(1).unwrap();
    let no_origin = http::Request::post("/eas/workbench")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(http_body_util::Full::new(bytes::Bytes::from(format!(
            "token={token}&confirmation={value}"
        ))))
        .unwrap();
    assert_eq!(super::support::send(address, no_origin).await.status, 403);
    let audit = |action: &str| {
        super::workbench::audit_lines(data_dir)
            .into_iter()
            .filter(|line| line["action"] == action)
            .count()
    };

    // The same-origin confirmation opens the session, once.
    let cookie_pair = session_cookie(&confirm_same_origin(address, &path, &value, &cookie).await);
    let (mut client, _) = connect_session_terminal(address, &cookie_pair)
        .await
        .unwrap();
    run_line(&mut client, "echo opened-$((6*7))\n", "opened-42", 10).await;
    let again = confirm_same_origin(address, &path, &value, &cookie).await;
    assert_eq!(again.status, 403);
    assert!(String::from_utf8_lossy(&again.body).contains("already been used"));
    // One redemption; the refused posts were turned away before the token was looked up.
    wait_until("the redemption's audit record", 5, || {
        audit("OpenWorkbench") >= 1
    })
    .await;
    assert_eq!(audit("OpenWorkbench"), 1);
}

#[test]
fn session_caps_and_the_session_user_come_from_flags_then_the_file_then_defaults() {
    let resolve = super::support::resolve_with_file;
    let defaults = super::support::resolve_serve_arguments(&[])
        .unwrap()
        .gateway;
    assert_eq!(defaults.max_running_sessions, 64);
    assert_eq!(defaults.terminals_per_browser_session, 1);
    assert_eq!(defaults.max_browser_sessions, 10_000);
    if rustix::process::getuid().is_root() {
        let user = defaults.session_user.expect("nobody under root");
        assert_ne!((user.uid, user.gid), (0, 0));
    }

    let contents = "max_running_sessions = 8\nterminals_per_browser_session = 2\n\
                    max_browser_sessions = 100\nsession_user = \"4242:4343\"\n";
    let from_file = resolve(contents, &[]).unwrap().gateway;
    assert_eq!(
        (
            from_file.max_running_sessions,
            from_file.terminals_per_browser_session,
            from_file.max_browser_sessions
        ),
        (8, 2, 100)
    );
    let user = from_file.session_user.unwrap();
    assert_eq!((user.uid, user.gid), (4242, 4343));
    let from_flags = resolve(
        contents,
        &[
            "--max-running-sessions",
            "3",
            "--terminals-per-browser-session",
            "4",
            "--max-browser-sessions",
            "5",
            "--session-user",
            "5000:5001",
        ],
    )
    .unwrap()
    .gateway;
    assert_eq!(
        (
            from_flags.max_running_sessions,
            from_flags.terminals_per_browser_session,
            from_flags.max_browser_sessions
        ),
        (3, 4, 5)
    );
    assert_eq!(from_flags.session_user.unwrap().uid, 5000);

    for contents in [
        "max_running_sessions = 0\n",
        "terminals_per_browser_session = 101\n",
        "session_user = \"root\"\n",
        "session_user = \"no-such-user-here\"\n",
    ] {
        assert!(resolve(contents, &[]).is_err(), "{contents}");
    }
}
