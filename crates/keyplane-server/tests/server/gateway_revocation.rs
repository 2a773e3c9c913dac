//! Revocation reaches what a credential opened, on real servers: a token of a deactivated key
//! or of a principal whose policy was detached opens nothing; deactivating or deleting the key,
//! or detaching the policy, closes open terminals (1008 `revoked`) and drops browser sessions
//! within a second; and a key deactivated on one node ends a terminal on another node sharing
//! the PostgreSQL database.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::hostile_gateway::{
    connect_session_terminal, flood_tokens, path_of, refused_status, register_flooding,
    session_cookie,
};
use super::support::{aliyun_call, init, init_with, AliyunCredentials, Server, IMS_VERSION};
use super::workbench::{
    children_of, confirm_same_origin, get, open_workbench, process_exists, read_to_close, register,
    run_line, shell_process_id, tokens, wait_until, Client,
};

const RAM_VERSION: &str = "2015-05-01";

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
    created.assert_status(200);
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
    reply.assert_status(200);
    set_policy(address, root, name, true).await;
    SubUser {
        principal_name,
        credentials: AliyunCredentials::created(&key),
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
    reply.assert_status(200);
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
    reply.assert_status(200);
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
    let refused = confirm_same_origin(address, &path_of(address, &answer), &value, &cookie).await;
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
    let shell_pid = shell_process_id(&mut terminal).await;
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
    run_line(&mut terminal, "echo ready-$((1+1))\n", "ready-2", 10).await;
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
    run_line(&mut terminal, "echo ready-$((1+2))\n", "ready-3", 10).await;
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
    reply.assert_status(200);
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
    run_line(&mut terminal, "echo on-b-$((1+1))\n", "on-b-2", 10).await;
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
