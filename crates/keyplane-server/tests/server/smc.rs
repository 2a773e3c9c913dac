//! SMC activation codes end to end on one real server: a code is minted over ACS3, redeemed by
//! migration agents at `POST /smc/v1/source-servers`, and `ListAccessTokens` and
//! `keyplane smc source-servers` show what happened; disabled, deleted, wrong and exhausted
//! codes are refused and consume nothing; the code is never stored or audited in clear.

use std::process::Command;

use super::support::{
    aliyun_call, assert_nothing_holds_in_clear, assert_succeeded, audit_output, binary, init,
    register_source_server, AliyunCredentials, Reply, Server, SMC_VERSION,
};

fn token(reply: &Reply) -> serde_json::Value {
    let listed = reply.json();
    assert_eq!(reply.status, 200, "{listed}");
    listed["AccessTokens"]["AccessToken"][0].clone()
}

/// Calls the SMC `action` on the activation code `token_id`, signed by `root`.
async fn on_token(
    address: std::net::SocketAddr,
    root: &AliyunCredentials,
    action: &str,
    token_id: &str,
) -> Reply {
    aliyun_call(
        address,
        root,
        SMC_VERSION,
        action,
        &[("AccessTokenId", token_id)],
    )
    .await
}

#[tokio::test]
async fn activation_codes_register_source_servers_and_show_their_use() {
    let directory = tempfile::tempdir().unwrap();
    let root = AliyunCredentials::root(&init(directory.path()));
    let server = Server::start(directory.path(), &[]);
    let address = server.address;
    let created = aliyun_call(
        address,
        &root,
        SMC_VERSION,
        "CreateAccessToken",
        &[
            ("Name", "rack-7"),
            ("Count", "2"),
            ("TimeToLiveInDays", "1"),
        ],
    )
    .await;
    assert_eq!(created.status, 200);
    let created = created.json();
    let token_id = created["AccessTokenId"].as_str().unwrap().to_owned();
    let code = created["AccessTokenCode"].as_str().unwrap().to_owned();
    assert!(
        token_id.starts_with("at-") && token_id.len() == 23,
        "{token_id}"
    );
    assert!(code.len() == 32 && code.bytes().all(|byte| byte.is_ascii_alphanumeric()));
    let filter = [("AccessTokenId.1", token_id.as_str())];
    let list = || aliyun_call(address, &root, SMC_VERSION, "ListAccessTokens", &filter);
    let listed = token(&list().await);
    assert_eq!(listed["Status"], "unactivated");
    assert_eq!(listed["RegisteredCount"], "0");
    assert_eq!(listed["Count"], "2");
    assert_eq!(listed["TimeToLiveInDays"], "1");

    let wrong = register_source_server(address, &token_id, "not-the-code", "machine-a").await;
    assert_eq!(
        (wrong.status, wrong.json()["Code"].clone()),
        (401, "InvalidAccessToken".into())
    );

    let first = register_source_server(address, &token_id, &code, "machine-a").await;
    assert_eq!(first.status, 201, "{}", first.json());
    let first = first.json();
    assert_eq!(first["AlreadyRegistered"], false);
    let again = register_source_server(address, &token_id, &code, "machine-a").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["SourceId"], first["SourceId"]);
    assert_eq!(again.json()["AlreadyRegistered"], true);
    let listed = token(&list().await);
    assert_eq!(listed["Status"], "activated");
    assert_eq!(listed["RegisteredCount"], "1");

    let second = register_source_server(address, &token_id, &code, "machine-b").await;
    assert_eq!(second.status, 201);
    let third = register_source_server(address, &token_id, &code, "machine-c").await;
    assert_eq!(
        (third.status, third.json()["Code"].clone()),
        (409, "AccessToken.Exhausted".into())
    );
    assert_eq!(token(&list().await)["RegisteredCount"], "2");

    let disabled = on_token(address, &root, "DisableAccessToken", &token_id).await;
    assert_eq!(disabled.status, 200);
    let listed = token(&list().await);
    assert_eq!(listed["Status"], "expired");
    let refused = register_source_server(address, &token_id, &code, "machine-d").await;
    assert_eq!(
        (refused.status, refused.json()["Code"].clone()),
        (403, "AccessToken.Disabled".into())
    );

    let output = Command::new(binary())
        .args(["smc", "source-servers", "--data-dir"])
        .arg(directory.path())
        .args(["--access-token-id", &token_id])
        .output()
        .unwrap();
    assert_succeeded(&output);
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["source_id"], first["SourceId"]);
    assert_eq!(lines[0]["fingerprint"], "machine-a");
    assert_eq!(lines[0]["access_token_id"], token_id.as_str());
    assert_eq!(lines[1]["fingerprint"], "machine-b");

    let deleted = on_token(address, &root, "DeleteAccessToken", &token_id).await;
    assert_eq!(deleted.status, 200);
    let gone = register_source_server(address, &token_id, &code, "machine-a").await;
    assert_eq!(
        (gone.status, gone.json()["Code"].clone()),
        (401, "InvalidAccessToken".into())
    );
    let unknown = on_token(address, &root, "DeleteAccessToken", &token_id).await;
    assert_eq!(
        (unknown.status, unknown.json()["Code"].clone()),
        (404, "InvalidAccessTokenId.NotFound".into())
    );
    server.terminate();

    // The code is stored only as its hash and never audited.
    assert_nothing_holds_in_clear(directory.path(), &code, "the activation code");
    let audit = audit_output(directory.path());
    let audit = String::from_utf8(audit.stdout).unwrap();
    assert!(!audit.contains(&code));
    assert!(audit.contains("RegisterSourceServer"));
    assert!(
        audit.contains("AccessToken.Exhausted"),
        "refusals are audited"
    );
}
