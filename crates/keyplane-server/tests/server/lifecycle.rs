//! The binary's contract: init (once only), serve on an empty directory, health, users created
//! while serving, clean shutdown on SIGTERM without losing acknowledged writes, secrets never
//! in clear on disk, and the audit command.

use std::process::Command;

use serde_json::json;

use super::support::{
    assert_healthy, assert_nothing_holds_in_clear, attach_policy, audit_output, binary, call,
    create_user, init, Credentials, Server, API_GATEWAY_VERSION, CAM_VERSION,
    MANAGE_OWN_ACCESS_KEYS,
};

#[test]
fn init_prints_credentials_once_and_refuses_a_second_time() {
    let directory = tempfile::tempdir().unwrap();
    let credentials = init(directory.path());
    let account_id = credentials["account_id"].as_str().unwrap();
    assert!(account_id.bytes().all(|byte| byte.is_ascii_digit()));
    assert_eq!(
        credentials["tencent"]["uin"].as_u64().unwrap().to_string(),
        account_id
    );
    let secret_id = credentials["tencent"]["secret_id"].as_str().unwrap();
    assert!(secret_id.starts_with("AKID") && secret_id.len() == 36);
    assert_eq!(
        credentials["tencent"]["secret_key"].as_str().unwrap().len(),
        32
    );
    let access_key_id = credentials["aliyun"]["access_key_id"].as_str().unwrap();
    assert!(access_key_id.starts_with("LTAI") && access_key_id.len() == 24);
    assert_eq!(
        credentials["aliyun"]["access_key_secret"]
            .as_str()
            .unwrap()
            .len(),
        30
    );

    let master_key = std::fs::read(directory.path().join("master.key")).unwrap();
    let database = std::fs::read(directory.path().join("keyplane.db")).unwrap();
    let second = Command::new(binary())
        .args(["init", "--json", "--data-dir"])
        .arg(directory.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already initialised"));
    assert!(second.stdout.is_empty());
    assert_eq!(
        std::fs::read(directory.path().join("master.key")).unwrap(),
        master_key
    );
    assert_eq!(
        std::fs::read(directory.path().join("keyplane.db")).unwrap(),
        database
    );

    use std::os::unix::fs::PermissionsExt;
    for file in ["master.key", "keyplane.db"] {
        let mode = std::fs::metadata(directory.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} must not be readable by others");
    }
}

#[tokio::test]
async fn serve_initialises_an_empty_directory_and_answers_health() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path().join("fresh");
    let server = Server::start(&data_dir, &[]);
    let printed = server.stdout_lines.join("\n");
    assert!(
        printed.contains("root-credentials.json") && !printed.contains("SecretKey"),
        "without a terminal the root credentials go to a file, not the output: {printed}"
    );
    assert!(data_dir.join("root-credentials.json").exists());
    assert_healthy(&server).await;
    let ready = super::support::readyz(server.address).await;
    assert_eq!(ready.status, 200, "the database answers");
    assert!(data_dir.join("master.key").exists());
    let status = server.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status}");

    let again = Server::start(&data_dir, &[]);
    assert!(
        !again.stdout_lines.join("\n").contains("root credentials"),
        "credentials are handed over only on first start"
    );
}

#[tokio::test]
async fn acknowledged_writes_survive_shutdown_and_secrets_never_reach_disk() {
    let directory = tempfile::tempdir().unwrap();
    let initialized = init(directory.path());
    let root = Credentials::root(&initialized);
    let server = Server::start(directory.path(), &["--disable-rate-limits"]);
    let user = create_user(directory.path(), "alice");
    let uin = user["uin"].as_u64().unwrap();
    attach_policy(server.address, &root, uin, MANAGE_OWN_ACCESS_KEYS).await;
    assert_eq!(
        user["user_principal_name"],
        json!(format!(
            "alice@{}.onaliyun.com",
            initialized["account_id"].as_str().unwrap()
        ))
    );

    let mut secrets = vec![
        root.secret_key.clone(),
        initialized["aliyun"]["access_key_secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    let created = call(
        server.address,
        &root,
        CAM_VERSION,
        "CreateAccessKey",
        &json!({ "TargetUin": uin }).to_string(),
    )
    .await;
    created.assert_tencent_shaped();
    let key = created.json()["Response"]["AccessKey"].clone();
    let alice = Credentials {
        secret_id: key["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_key: key["SecretAccessKey"].as_str().unwrap().to_owned(),
    };
    secrets.push(alice.secret_key.clone());
    for body in [
        json!({ "SecretName": "auto-key" }),
        json!({ "SecretName": "manual-key", "AccessKeyType": "manual", "AccessKeyId": "manual_key_01", "AccessKeySecret": "manual_secret_0123456789" }),
    ] {
        let reply = call(
            server.address,
            &root,
            API_GATEWAY_VERSION,
            "CreateApiKey",
            &body.to_string(),
        )
        .await;
        reply.assert_tencent_shaped();
        secrets.push(
            reply.json()["Response"]["Result"]["AccessKeySecret"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let denied = call(
        server.address,
        &alice,
        API_GATEWAY_VERSION,
        "DescribeApiKeysStatus",
        "{}",
    )
    .await;
    assert_eq!(
        denied.error_code().as_deref(),
        Some("AuthFailure.UnauthorizedOperation")
    );
    let status = server.terminate();
    assert!(status.success());

    let restarted = Server::start(directory.path(), &[]);
    let listed = call(
        restarted.address,
        &alice,
        CAM_VERSION,
        "ListAccessKeys",
        "{}",
    )
    .await;
    listed.assert_tencent_shaped();
    assert_eq!(
        listed.json()["Response"]["AccessKeys"][0]["AccessKeyId"],
        key["AccessKeyId"]
    );
    drop(restarted);

    for secret in &secrets {
        assert_nothing_holds_in_clear(directory.path(), secret, "a secret");
    }
    let audit = audit_output(directory.path());
    assert!(audit.status.success());
    let audit = String::from_utf8(audit.stdout).unwrap();
    for secret in &secrets {
        assert!(
            !audit.contains(secret.as_str()),
            "a secret is in the audit log"
        );
    }
    let events: Vec<serde_json::Value> = audit
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let outcomes: Vec<(String, String)> = events
        .iter()
        .map(|event| {
            (
                event["action"].as_str().unwrap().to_owned(),
                event["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(outcomes.contains(&("CreateUser".into(), "Success".into())));
    assert!(outcomes.contains(&("CreateAccessKey".into(), "Success".into())));
    assert_eq!(
        outcomes
            .iter()
            .filter(|(action, _)| action == "CreateApiKey")
            .count(),
        2
    );
    assert!(outcomes.contains(&(
        "DescribeApiKeysStatus".into(),
        "AuthFailure.UnauthorizedOperation".into()
    )));
    let create = events
        .iter()
        .find(|event| event["action"] == "CreateAccessKey")
        .unwrap();
    assert_eq!(create["target"], key["AccessKeyId"]);
    assert_eq!(create["key_id"], json!(root.secret_id));
    assert_eq!(create["source_address"], json!("127.0.0.1"));
    // Each record carries the authorization decision and what made it.
    assert_eq!(create["decision"], json!("Allow"));
    assert_eq!(create["decision_statement"], json!("root"));
    let refused = events
        .iter()
        .find(|event| event["action"] == "DescribeApiKeysStatus")
        .unwrap();
    assert_eq!(refused["decision"], json!("ImplicitDeny"));
    assert_eq!(refused["decision_statement"], json!(null));
    let operator = events
        .iter()
        .find(|event| event["action"] == "CreateUser")
        .unwrap();
    assert_eq!(
        operator["decision"],
        json!(null),
        "operator commands decide nothing"
    );
}
