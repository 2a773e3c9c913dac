//! The terminal gateway against hostile or careless clients, on real servers: a client that
//! runs `yes` and stops reading is still cut off by the session limits; session programs run
//! as an unprivileged user that cannot read the master key, the database or the server's
//! environment; caps on terminals per browser session, running sessions and browser sessions
//! refuse (and burn nothing) instead of evicting; a Workbench URL burns nothing on GET and
//! opens only on a same-origin confirmation; and revoking the key or the permission behind a
//! token refuses the token and ends what it opened, on this node and on another node sharing
//! the PostgreSQL database.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use super::support::{
    aliyun_call, create_service_instance_token, init, init_with, keyplane, AliyunCredentials,
    Server, IMS_VERSION,
};
use super::workbench::{
    children_of, confirmation_page, get, open_workbench, post_confirmation, process_exists,
    read_to_close, read_until, register, tokens, wait_until, Client,
};

const RAM_VERSION: &str = "2015-05-01";

/// A service whose terminal is a shell and whose log program never stops printing.
fn register_flooding(data_dir: &Path, extra: &[&str]) {
    for arguments in [
        vec![
            "eas",
            "service",
            "create",
            "--cluster",
            "cn-shanghai",
            "--name",
            "flood",
            "--exec",
            "/bin/sh -i",
            "--log",
            "yes log-flood-line",
        ],
        vec![
            "eas",
            "instance",
            "add",
            "--cluster",
            "cn-shanghai",
            "--service",
            "flood",
            "--name",
            "flood-1",
            "--worker",
            "worker0",
        ],
    ] {
        let mut arguments = arguments;
        arguments.extend_from_slice(extra);
        let (success, _, stderr) = keyplane(data_dir, &arguments);
        assert!(success, "{arguments:?}: {stderr}");
    }
}

async fn flood_tokens(address: SocketAddr, credentials: &AliyunCredentials) -> Value {
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
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path();
    let root = AliyunCredentials::root(&init(data_dir));
    register_flooding(data_dir, &[]);
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
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path();
    let root = AliyunCredentials::root(&init(data_dir));
    register_flooding(data_dir, &[]);
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
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path();
    let root = AliyunCredentials::root(&init(data_dir));
    register(data_dir);
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
            "id -u; id -G; echo cwd=$(pwd); tty; test -w \"$(tty)\" && echo pty-is-writable; \
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
    let lines: Vec<&str> = output.lines().map(str::trim).collect();
    let uid = lines
        .iter()
        .find_map(|line| line.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no uid in {output}"));
    assert_ne!(uid, 0, "{output}");
    assert!(output.contains("pty-is-writable"), "{output}");
    assert!(output.contains("cwd=/\r"), "{output}");
    client.close(None).await.unwrap();
}

fn connect_session_terminal(
    address: SocketAddr,
    cookie: &str,
) -> impl std::future::Future<
    Output = Result<
        (
            Client,
            tokio_tungstenite::tungstenite::handshake::client::Response,
        ),
        tokio_tungstenite::tungstenite::Error,
    >,
> {
    let mut request = format!("ws://{address}/eas/v1/session-terminal")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", format!("http://{address}").parse().unwrap());
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    tokio_tungstenite::connect_async(request)
}

fn refused_status(
    result: Result<
        (
            Client,
            tokio_tungstenite::tungstenite::handshake::client::Response,
        ),
        tokio_tungstenite::tungstenite::Error,
    >,
) -> (u16, String) {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => (
            response.status().as_u16(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or(b"")).into_owned(),
        ),
        Err(other) => panic!("not an HTTP refusal: {other}"),
        Ok(_) => panic!("the connection was accepted"),
    }
}

fn path_of(address: SocketAddr, answer: &Value) -> String {
    answer["WorkbenchUrl"]
        .as_str()
        .unwrap()
        .strip_prefix(&format!("http://{address}"))
        .unwrap()
        .to_owned()
}

fn session_cookie(reply: &super::support::Reply) -> String {
    assert_eq!(
        reply.status,
        303,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let cookie = reply.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("keyplane_workbench="), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn caps_refuse_new_sessions_instead_of_evicting_and_burn_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path();
    let root = AliyunCredentials::root(&init(data_dir));
    register(data_dir);
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
    first
        .send(Message::text("echo first-$((1+1))\n"))
        .await
        .unwrap();
    read_until(&mut first, "first-2", 10).await;
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
    third_client
        .send(Message::text("echo third-$((1+2))\n"))
        .await
        .unwrap();
    read_until(&mut third_client, "third-3", 10).await;
    first
        .send(Message::text("echo still-$((2+2))\n"))
        .await
        .unwrap();
    read_until(&mut first, "still-4", 10).await;
}

#[tokio::test]
async fn a_workbench_url_opens_only_on_a_same_origin_confirmation() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path();
    let root = AliyunCredentials::root(&init(data_dir));
    register(data_dir);
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
    let cookie_pair = session_cookie(
        &post_confirmation(
            address,
            &path,
            &format!("http://{address}"),
            &value,
            &cookie,
        )
        .await,
    );
    let (mut client, _) = connect_session_terminal(address, &cookie_pair)
        .await
        .unwrap();
    client
        .send(Message::text("echo opened-$((6*7))\n"))
        .await
        .unwrap();
    read_until(&mut client, "opened-42", 10).await;
    let again = post_confirmation(
        address,
        &path,
        &format!("http://{address}"),
        &value,
        &cookie,
    )
    .await;
    assert_eq!(again.status, 403);
    assert!(String::from_utf8_lossy(&again.body).contains("already been used"));
    // One redemption; the refused posts were turned away before the token was looked up.
    wait_until("the redemption's audit record", 5, || {
        audit("OpenWorkbench") >= 1
    })
    .await;
    assert_eq!(audit("OpenWorkbench"), 1);
}

/// A sub-user with its own Alibaba key and a policy allowing tokens for `service`.
struct SubUser {
    principal_name: String,
    credentials: AliyunCredentials,
}

async fn sub_user_with_eas(
    address: SocketAddr,
    root: &AliyunCredentials,
    account_id: &str,
    name: &str,
    service: &str,
) -> SubUser {
    let principal_name = format!("{name}@{account_id}.onaliyun.com");
    let created = aliyun_call(
        address,
        root,
        IMS_VERSION,
        "CreateUser",
        &[
            ("UserPrincipalName", &principal_name),
            ("DisplayName", name),
        ],
    )
    .await;
    assert_eq!(
        created.status,
        200,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let key = aliyun_call(
        address,
        root,
        IMS_VERSION,
        "CreateAccessKey",
        &[("UserPrincipalName", &principal_name)],
    )
    .await;
    assert_eq!(key.status, 200);
    let key = key.json();
    let document = serde_json::json!({"Version": "1", "Statement": [{"Effect": "Allow",
        "Action": "eas:CreateServiceInstanceToken",
        "Resource": format!("acs:eas:*:*:service/{service}")}]})
    .to_string();
    let policy = format!("eas-{name}");
    let reply = aliyun_call(
        address,
        root,
        RAM_VERSION,
        "CreatePolicy",
        &[("PolicyName", &policy), ("PolicyDocument", &document)],
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    set_policy(address, root, name, true).await;
    SubUser {
        principal_name,
        credentials: AliyunCredentials {
            access_key_id: key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
            access_key_secret: key["AccessKey"]["AccessKeySecret"]
                .as_str()
                .unwrap()
                .to_owned(),
        },
    }
}

async fn set_policy(address: SocketAddr, root: &AliyunCredentials, name: &str, attached: bool) {
    let action = if attached {
        "AttachPolicyToUser"
    } else {
        "DetachPolicyFromUser"
    };
    let reply = aliyun_call(
        address,
        root,
        RAM_VERSION,
        action,
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", &format!("eas-{name}")),
            ("UserName", name),
        ],
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

async fn set_key_status(
    address: SocketAddr,
    root: &AliyunCredentials,
    user: &SubUser,
    status: &str,
) {
    let reply = aliyun_call(
        address,
        root,
        IMS_VERSION,
        "UpdateAccessKey",
        &[
            ("UserPrincipalName", &user.principal_name),
            ("UserAccessKeyId", &user.credentials.access_key_id),
            ("Status", status),
        ],
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

/// Waits for a terminal's close frame; panics when it does not come within `seconds`.
async fn closed_within(client: &mut Client, seconds: f64) -> Option<(CloseCode, String)> {
    let started = Instant::now();
    let (_, close) = read_to_close(client, 10).await;
    assert!(
        started.elapsed() < Duration::from_secs_f64(seconds),
        "closed only after {:?}",
        started.elapsed()
    );
    close
}

#[tokio::test]
async fn revoking_the_key_or_the_permission_refuses_tokens_and_ends_their_sessions() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path();
    let initialized = init(data_dir);
    let root = AliyunCredentials::root(&initialized);
    let account_id = initialized["account_id"].as_str().unwrap().to_owned();
    register(data_dir);
    let server = Server::start(data_dir, &[]);
    let address = server.address;
    let bob = sub_user_with_eas(address, &root, &account_id, "bob", "svc").await;
    let bob_tokens = || tokens(&server, &bob.credentials);

    // A token of a deactivated key opens nothing.
    let answer = bob_tokens().await;
    set_key_status(address, &root, &bob, "Inactive").await;
    let (status, body) =
        refused_status(tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap()).await);
    assert_eq!(
        (status, body.contains("InstanceToken.Revoked")),
        (403, true),
        "{body}"
    );
    let page = super::support::send(address, get(&path_of(address, &answer), None)).await;
    let (value, cookie) = {
        let html = String::from_utf8_lossy(&page.body).into_owned();
        let value = html
            .split("name=\"confirmation\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        (
            value,
            page.headers["set-cookie"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned(),
        )
    };
    let refused = post_confirmation(
        address,
        &path_of(address, &answer),
        &format!("http://{address}"),
        &value,
        &cookie,
    )
    .await;
    assert_eq!(refused.status, 403);
    assert!(String::from_utf8_lossy(&refused.body).contains("revoked"));
    set_key_status(address, &root, &bob, "Active").await;

    // A token whose principal's policy was detached opens nothing.
    let answer = bob_tokens().await;
    set_policy(address, &root, "bob", false).await;
    let (status, body) = refused_status(
        tokio_tungstenite::connect_async(answer["StreamlogUrl"].as_str().unwrap()).await,
    );
    assert_eq!(
        (status, body.contains("Forbidden.RAM")),
        (403, true),
        "{body}"
    );
    set_policy(address, &root, "bob", true).await;

    // Open sessions end within a second of a deactivation: a terminal, a browser session.
    let answer = bob_tokens().await;
    let (mut terminal, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    terminal
        .send(Message::text("echo pid-$$-$((1+1))end\n"))
        .await
        .unwrap();
    let output = read_until(&mut terminal, "-2end\r\n", 10).await;
    let shell_pid: u32 = output
        .rsplit("pid-")
        .next()
        .and_then(|rest| rest.split("-2end").next())
        .and_then(|digits| digits.parse().ok())
        .unwrap();
    let browser = session_cookie(&open_workbench(address, &path_of(address, &answer)).await);
    set_key_status(address, &root, &bob, "Inactive").await;
    assert_eq!(
        closed_within(&mut terminal, 1.5).await,
        Some((CloseCode::Policy, "revoked".to_owned()))
    );
    wait_until("the revoked shell ending", 5, || !process_exists(shell_pid)).await;
    let (status, body) = refused_status(connect_session_terminal(address, &browser).await);
    assert!(status == 401 || status == 403, "{status} {body}");
    set_key_status(address, &root, &bob, "Active").await;

    // Detaching the policy ends the page's terminal too.
    let answer = bob_tokens().await;
    let browser = session_cookie(&open_workbench(address, &path_of(address, &answer)).await);
    let (mut terminal, _) = connect_session_terminal(address, &browser).await.unwrap();
    terminal
        .send(Message::text("echo ready-$((1+1))\n"))
        .await
        .unwrap();
    read_until(&mut terminal, "ready-2", 10).await;
    set_policy(address, &root, "bob", false).await;
    assert_eq!(
        closed_within(&mut terminal, 1.5).await,
        Some((CloseCode::Policy, "revoked".to_owned()))
    );
    set_policy(address, &root, "bob", true).await;

    // Deleting the key ends its terminal.
    let answer = bob_tokens().await;
    let (mut terminal, _) = tokio_tungstenite::connect_async(answer["Url"].as_str().unwrap())
        .await
        .unwrap();
    terminal
        .send(Message::text("echo ready-$((1+2))\n"))
        .await
        .unwrap();
    read_until(&mut terminal, "ready-3", 10).await;
    let reply = aliyun_call(
        address,
        &root,
        IMS_VERSION,
        "DeleteAccessKey",
        &[
            ("UserPrincipalName", &bob.principal_name),
            ("UserAccessKeyId", &bob.credentials.access_key_id),
        ],
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        closed_within(&mut terminal, 1.5).await,
        Some((CloseCode::Policy, "revoked".to_owned()))
    );
    wait_until("the revoked sessions' audit records", 10, || {
        super::workbench::audit_lines(data_dir)
            .into_iter()
            .filter(|line| {
                line["action"] == "TerminalSession"
                    && line["detail"]
                        .as_str()
                        .is_some_and(|detail| detail.contains("end=revoked"))
            })
            .count()
            == 3
    })
    .await;
}

#[tokio::test]
async fn a_key_deactivated_on_one_node_ends_a_terminal_on_another() {
    let Some(url) = super::cluster::fresh_database_url("gateway_revocation").await else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let nodes = [directory.path().join("a"), directory.path().join("b")];
    let key_file = nodes[0].join("master.key");
    let initialized = init_with(&nodes[0], &["--database-url", &url]);
    let root = AliyunCredentials::root(&initialized);
    let account_id = initialized["account_id"].as_str().unwrap().to_owned();
    let shared = [
        "--database-url",
        url.as_str(),
        "--master-key-file",
        key_file.to_str().unwrap(),
    ];
    register_flooding(&nodes[0], &shared);
    let node_a = Server::start(&nodes[0], &shared);
    let node_b = Server::start(&nodes[1], &shared);
    let bob = sub_user_with_eas(node_a.address, &root, &account_id, "bob", "flood").await;

    let answer = flood_tokens(node_a.address, &bob.credentials).await;
    let terminal_url = answer["Url"]
        .as_str()
        .unwrap()
        .replace(&node_a.address.to_string(), &node_b.address.to_string());
    let (mut terminal, _) = tokio_tungstenite::connect_async(&terminal_url)
        .await
        .unwrap();
    terminal
        .send(Message::text("echo on-b-$((1+1))\n"))
        .await
        .unwrap();
    read_until(&mut terminal, "on-b-2", 10).await;
    set_key_status(node_a.address, &root, &bob, "Inactive").await;
    assert_eq!(
        closed_within(&mut terminal, 2.5).await,
        Some((CloseCode::Policy, "revoked".to_owned()))
    );
    wait_until("node B's shell ending", 5, || {
        children_of(node_b.child.id()).is_empty()
    })
    .await;
}

#[test]
fn session_caps_and_the_session_user_come_from_flags_then_the_file_then_defaults() {
    use clap::Parser;
    use keyplane_server::config::{ServeArgs, ServeConfig};

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        serve: ServeArgs,
    }
    let resolve = |arguments: &[&str]| {
        let mut argv = vec!["keyplane"];
        argv.extend_from_slice(arguments);
        ServeConfig::resolve(&Command::try_parse_from(argv).unwrap().serve)
    };
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("keyplane.toml");
    let file = file.to_str().unwrap();

    let defaults = resolve(&[]).unwrap().gateway;
    assert_eq!(defaults.max_running_sessions, 64);
    assert_eq!(defaults.terminals_per_browser_session, 1);
    assert_eq!(defaults.max_browser_sessions, 10_000);
    if rustix::process::getuid().is_root() {
        let user = defaults.session_user.expect("nobody under root");
        assert_ne!((user.uid, user.gid), (0, 0));
    }

    std::fs::write(
        file,
        "max_running_sessions = 8\nterminals_per_browser_session = 2\n\
         max_browser_sessions = 100\nsession_user = \"4242:4343\"\n",
    )
    .unwrap();
    let from_file = resolve(&["--config", file]).unwrap().gateway;
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
    let from_flags = resolve(&[
        "--config",
        file,
        "--max-running-sessions",
        "3",
        "--terminals-per-browser-session",
        "4",
        "--max-browser-sessions",
        "5",
        "--session-user",
        "5000:5001",
    ])
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
        std::fs::write(file, contents).unwrap();
        assert!(resolve(&["--config", file]).is_err(), "{contents}");
    }
}
