//! The client address behind a trusted proxy, on a real `keyplane serve`: with
//! `--trusted-proxy 127.0.0.0/8` a source-address condition and the audit see the address
//! named by `X-Forwarded-For`; without it the header is ignored.

use std::net::SocketAddr;

use serde_json::json;

use super::support::{
    attach_policy, call, create_user, init, keyplane, send, signed, Credentials, Server,
    CAM_VERSION,
};

/// A sub-user's TC3 key, made by the root.
async fn user_key(address: SocketAddr, root: &Credentials, uin: u64) -> Credentials {
    let reply = call(
        address,
        root,
        CAM_VERSION,
        "CreateAccessKey",
        &json!({ "TargetUin": uin }).to_string(),
    )
    .await;
    let created = reply.json();
    let key = &created["Response"]["AccessKey"];
    Credentials {
        secret_id: key["AccessKeyId"].as_str().expect("a key id").to_owned(),
        secret_key: key["SecretAccessKey"].as_str().unwrap().to_owned(),
    }
}

/// `ListUsers` as `user`, with an `X-Forwarded-For` header if given; the error code.
async fn list_users(
    address: SocketAddr,
    user: &Credentials,
    forwarded_for: Option<&str>,
) -> Option<String> {
    let mut request = signed(address, user, CAM_VERSION, "ListUsers", "{}");
    if let Some(forwarded_for) = forwarded_for {
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded_for.parse().unwrap());
    }
    send(address, request).await.error_code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    let bob = create_user(directory.path(), "bob");
    let uin = bob["uin"].as_u64().unwrap();

    let server = Server::start(directory.path(), &["--trusted-proxy", "127.0.0.0/8"]);
    let address = server.address;
    let user = user_key(address, &root, uin).await;
    let created = call(
        address,
        &root,
        CAM_VERSION,
        "CreatePolicy",
        &json!({
            "PolicyName": "only-from-the-office",
            "PolicyDocument": json!({"version": "2.0", "statement": [{
                "effect": "allow", "action": "cam:ListUsers", "resource": "*",
                "condition": {"ip_equal": {"qcs:ip": ["203.0.113.7"]}}}]}).to_string(),
        })
        .to_string(),
    )
    .await
    .json();
    let policy_id = created["Response"]["PolicyId"].as_u64().expect("a policy");
    attach_policy(address, &root, uin, policy_id).await;

    assert_eq!(list_users(address, &user, Some("203.0.113.7")).await, None);
    assert_eq!(
        list_users(address, &user, Some("203.0.113.7, 127.0.0.9")).await,
        None,
        "trusted hops on the right are skipped"
    );
    let denied = Some("AuthFailure.UnauthorizedOperation".to_owned());
    assert_eq!(list_users(address, &user, None).await, denied);
    assert_eq!(
        list_users(address, &user, Some("203.0.113.7, 198.51.100.1")).await,
        denied,
        "the first untrusted address from the right is the client"
    );
    assert!(server.terminate().success());

    // The audit records the forwarded address (successful reads are not audited; the
    // refusals are).
    let (success, audit, stderr) = keyplane(directory.path(), &["audit"]);
    assert!(success, "{stderr}");
    let refusal_sources: Vec<String> = audit
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|record| record["action"] == "ListUsers")
        .filter_map(|record| record["source_address"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(refusal_sources, ["127.0.0.1", "198.51.100.1"], "{audit}");

    // Without --trusted-proxy the header is ignored.
    let server = Server::start(directory.path(), &[]);
    assert_eq!(
        list_users(server.address, &user, Some("203.0.113.7")).await,
        denied
    );
}
