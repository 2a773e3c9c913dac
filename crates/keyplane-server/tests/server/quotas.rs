//! Quotas and revocation under concurrency, through the real server: the per-user key quota
//! holds under 50 simultaneous creates, and a deactivated or deleted key stops authenticating
//! on the very next request.

use serde_json::json;

use super::support::{call, create_user, init, Credentials, Server, CAM_VERSION};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_creates_for_one_user_yield_exactly_two_keys() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    let server = Server::start(directory.path(), &["--disable-rate-limits"]);
    let uin = create_user(directory.path(), "bob")["uin"]
        .as_u64()
        .unwrap();
    let body = json!({ "TargetUin": uin }).to_string();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let root = root.clone();
        let body = body.clone();
        let address = server.address;
        tasks.push(tokio::spawn(async move {
            call(address, &root, CAM_VERSION, "CreateAccessKey", &body).await
        }));
    }
    let mut created = 0;
    let mut refused = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        reply.assert_tencent_shaped();
        match reply.error_code().as_deref() {
            None => created += 1,
            Some("OperationDenied.AccessKeyOverLimit") => refused += 1,
            Some(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!((created, refused), (2, 48));
    let listed = call(server.address, &root, CAM_VERSION, "ListAccessKeys", &body).await;
    assert_eq!(
        listed.json()["Response"]["AccessKeys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn deactivated_and_deleted_keys_stop_authenticating_at_once() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    let server = Server::start(directory.path(), &["--disable-rate-limits"]);
    let created = call(server.address, &root, CAM_VERSION, "CreateAccessKey", "{}").await;
    let key = created.json()["Response"]["AccessKey"].clone();
    let second = Credentials {
        secret_id: key["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_key: key["SecretAccessKey"].as_str().unwrap().to_owned(),
    };
    let key_id = second.secret_id.clone();
    assert_eq!(
        call(server.address, &second, CAM_VERSION, "ListAccessKeys", "{}")
            .await
            .error_code(),
        None
    );

    let update = |status: &str| json!({ "AccessKeyId": key_id, "Status": status }).to_string();
    let reply = call(
        server.address,
        &root,
        CAM_VERSION,
        "UpdateAccessKey",
        &update("Inactive"),
    )
    .await;
    assert_eq!(reply.error_code(), None);
    let refused = call(server.address, &second, CAM_VERSION, "ListAccessKeys", "{}").await;
    refused.assert_tencent_shaped();
    assert_eq!(
        refused.error_code().as_deref(),
        Some("AuthFailure.SecretIdNotFound")
    );

    call(
        server.address,
        &root,
        CAM_VERSION,
        "UpdateAccessKey",
        &update("Active"),
    )
    .await;
    assert_eq!(
        call(server.address, &second, CAM_VERSION, "ListAccessKeys", "{}")
            .await
            .error_code(),
        None
    );

    let delete = json!({ "AccessKeyId": key_id }).to_string();
    assert_eq!(
        call(
            server.address,
            &root,
            CAM_VERSION,
            "DeleteAccessKey",
            &delete
        )
        .await
        .error_code(),
        None
    );
    let refused = call(server.address, &second, CAM_VERSION, "ListAccessKeys", "{}").await;
    assert_eq!(
        refused.error_code().as_deref(),
        Some("AuthFailure.SecretIdNotFound")
    );
}
