//! Several `keyplane serve` nodes on one PostgreSQL database, as real processes: the master
//! key check refuses a node with another key, quotas and limits hold when both nodes are
//! hammered at once, and a key deactivated or deleted on one node stops working on the other
//! within a second (LISTEN/NOTIFY). Each test gets its own schema in the database named by
//! `KEYPLANE_TEST_DATABASE_URL`; without it every test says it skipped.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;

use super::support::{
    binary, call, create_user_with, init_with, words, Credentials, Server, API_GATEWAY_VERSION,
    CAM_VERSION,
};

/// A fresh schema in the test database and the URL that points a node at it; `None` (and a
/// message) when no database is configured.
pub async fn fresh_database_url(test: &str) -> Option<String> {
    let Some(base) = std::env::var("KEYPLANE_TEST_DATABASE_URL")
        .ok()
        .filter(|value| !value.is_empty())
    else {
        let message = format!("{test}: SKIPPED, KEYPLANE_TEST_DATABASE_URL is not set");
        eprintln!("{message}");
        println!("{message}");
        return None;
    };
    let schema = format!(
        "cluster_{}_{}",
        test,
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    );
    let mut connection = sqlx::PgConnection::connect(&base)
        .await
        .expect("connecting to KEYPLANE_TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut connection)
        .await
        .expect("creating a schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!(
        "{base}{separator}options=-c%20search_path%3D{schema}"
    ))
}

/// Two nodes' arguments: one database, one master key file (node A's).
struct Cluster {
    _directory: tempfile::TempDir,
    url: String,
    key_file: PathBuf,
    node_directories: [PathBuf; 2],
    root: Credentials,
    aliyun_root: super::support::AliyunCredentials,
}

impl Cluster {
    async fn new(test: &str) -> Option<Self> {
        let url = fresh_database_url(test).await?;
        let directory = tempfile::tempdir().unwrap();
        let node_directories = [directory.path().join("a"), directory.path().join("b")];
        let key_file = node_directories[0].join("master.key");
        let initialized = init_with(&node_directories[0], &["--database-url", &url]);
        Some(Self {
            root: Credentials::root(&initialized),
            aliyun_root: super::support::AliyunCredentials::root(&initialized),
            _directory: directory,
            url,
            key_file,
            node_directories,
        })
    }

    fn arguments<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut arguments = vec![
            "--database-url",
            self.url.as_str(),
            "--master-key-file",
            self.key_file.to_str().unwrap(),
        ];
        arguments.extend_from_slice(extra);
        arguments
    }

    fn start(&self, node: usize, extra: &[&str]) -> Server {
        Server::start(&self.node_directories[node], &self.arguments(extra))
    }

    /// Both nodes, started with the same `extra` arguments.
    fn start_both(&self, extra: &[&str]) -> [Server; 2] {
        [self.start(0, extra), self.start(1, extra)]
    }

    fn create_user(&self, name: &str) -> u64 {
        create_user_with(&self.node_directories[1], name, &self.arguments(&[]))["uin"]
            .as_u64()
            .unwrap()
    }
}

/// Asserts that `created` of the replies succeeded and every other was refused with `refusal`,
/// each one Tencent-shaped.
fn assert_outcomes(replies: Vec<super::support::Reply>, created: usize, refusal: &str) {
    let mut succeeded = 0;
    let mut refused = Vec::new();
    for reply in replies {
        reply.assert_tencent_shaped();
        match reply.error_code() {
            None => succeeded += 1,
            Some(code) => refused.push(code),
        }
    }
    assert_eq!(succeeded, created);
    assert!(refused.iter().all(|code| code == refusal), "{refused:?}");
}

/// Sends `count` copies of one call, alternating between the two nodes, all at once.
async fn hammer(
    nodes: &[Server; 2],
    root: &Credentials,
    version: &'static str,
    action: &'static str,
    body: impl Fn(usize) -> String,
    count: usize,
) -> Vec<super::support::Reply> {
    let mut tasks = Vec::new();
    for index in 0..count {
        let address = nodes[index % 2].address;
        let root = root.clone();
        let body = body(index);
        tasks.push(tokio::spawn(async move {
            call(address, &root, version, action, &body).await
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

#[tokio::test]
async fn a_node_with_another_master_key_refuses_to_start() {
    let Some(cluster) = Cluster::new("other_key").await else {
        return;
    };
    let stranger = tempfile::tempdir().unwrap();
    let output = Command::new(binary())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &cluster.url,
            "--data-dir",
        ])
        .arg(stranger.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("master key cannot open"), "{stderr}");
    assert!(
        !stranger.path().join("master.key").exists(),
        "the refused node leaves no key of its own behind"
    );
    let node = cluster.start(0, &[]);
    let health = super::support::readyz(node.address).await;
    assert_eq!(health.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_access_key_quota_holds_across_two_nodes() {
    let Some(cluster) = Cluster::new("key_quota").await else {
        return;
    };
    let nodes = cluster.start_both(&["--disable-rate-limits"]);
    let uin = cluster.create_user("carol");
    let replies = hammer(
        &nodes,
        &cluster.root,
        CAM_VERSION,
        "CreateAccessKey",
        |_| json!({ "TargetUin": uin }).to_string(),
        100,
    )
    .await;
    assert_outcomes(replies, 2, "OperationDenied.AccessKeyOverLimit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_key_limits_and_ids_hold_across_two_nodes() {
    let Some(cluster) = Cluster::new("api_keys").await else {
        return;
    };
    let extra = ["--disable-rate-limits", "--api-key-limit", "5"];
    let nodes = cluster.start_both(&extra);
    let replies = hammer(
        &nodes,
        &cluster.root,
        API_GATEWAY_VERSION,
        "CreateApiKey",
        |index| json!({ "SecretName": format!("key-{index}") }).to_string(),
        40,
    )
    .await;
    assert_outcomes(replies, 5, "LimitExceeded.ApiKeyCountLimitExceeded");

    let other = Cluster::new("api_key_ids").await.unwrap();
    let nodes = other.start_both(&["--disable-rate-limits"]);
    let replies = hammer(
        &nodes,
        &other.root,
        API_GATEWAY_VERSION,
        "CreateApiKey",
        |_| {
            json!({ "SecretName": "same", "AccessKeyType": "manual", "AccessKeyId": "shared_id_01", "AccessKeySecret": "shared_secret_01" })
                .to_string()
        },
        20,
    )
    .await;
    assert_outcomes(replies, 1, "FailedOperation.AccessKeyExist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_on_one_node_reaches_the_other_within_a_second() {
    let Some(cluster) = Cluster::new("revocation").await else {
        return;
    };
    let nodes = cluster.start_both(&["--disable-rate-limits"]);
    for revoke in ["UpdateAccessKey", "DeleteAccessKey"] {
        let created = call(
            nodes[0].address,
            &cluster.root,
            CAM_VERSION,
            "CreateAccessKey",
            "{}",
        )
        .await;
        let credentials = Credentials::created(&created.json()["Response"]);
        // Node B authenticates with the key, so it sits in B's cache.
        let reply = call(
            nodes[1].address,
            &credentials,
            CAM_VERSION,
            "ListAccessKeys",
            "{}",
        )
        .await;
        assert_eq!(reply.error_code(), None);
        let body = if revoke == "UpdateAccessKey" {
            json!({ "AccessKeyId": credentials.secret_id, "Status": "Inactive" })
        } else {
            json!({ "AccessKeyId": credentials.secret_id })
        };
        let reply = call(
            nodes[0].address,
            &cluster.root,
            CAM_VERSION,
            revoke,
            &body.to_string(),
        )
        .await;
        assert_eq!(reply.error_code(), None);
        let elapsed = time_until_code(
            &nodes[1],
            &credentials,
            Some("AuthFailure.SecretIdNotFound"),
        )
        .await;
        assert!(
            elapsed < Duration::from_secs(1),
            "{revoke}: node B still accepted the key after {elapsed:?}"
        );
        if revoke == "UpdateAccessKey" {
            let delete = json!({ "AccessKeyId": credentials.secret_id }).to_string();
            call(
                nodes[0].address,
                &cluster.root,
                CAM_VERSION,
                "DeleteAccessKey",
                &delete,
            )
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_activation_code_registers_exactly_its_count_across_two_nodes() {
    use super::support::{aliyun_call, register_source_server, SMC_VERSION};
    let Some(cluster) = Cluster::new("redeem").await else {
        return;
    };
    // A thousand machines registering at once come from a thousand addresses; here they all
    // come from 127.0.0.1, so the per-address connection limit is raised for them.
    let arguments = [
        "--disable-rate-limits",
        "--max-connections-per-address",
        "1024",
    ];
    let nodes = cluster.start_both(&arguments);
    let root = cluster.aliyun_root.clone();
    let created = aliyun_call(
        nodes[0].address,
        &root,
        SMC_VERSION,
        "CreateAccessToken",
        &[("Name", "cluster-migration"), ("Count", "100")],
    )
    .await;
    created.assert_status(200);
    let created = created.json();
    let token_id = created["AccessTokenId"].as_str().unwrap().to_owned();
    let token_code = created["AccessTokenCode"].as_str().unwrap().to_owned();

    let mut tasks = Vec::new();
    for index in 0..1000 {
        let address = nodes[index % 2].address;
        let (token_id, token_code) = (token_id.clone(), token_code.clone());
        tasks.push(tokio::spawn(async move {
            register_source_server(
                address,
                &token_id,
                &token_code,
                &format!("machine-{index:04}"),
            )
            .await
        }));
    }
    let mut registered = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            201 => registered.push(reply.json()["SourceId"].as_str().unwrap().to_owned()),
            _ => refused.push((
                reply.status,
                reply.json()["Code"].as_str().unwrap().to_owned(),
            )),
        }
    }
    assert_eq!(registered.len(), 100);
    registered.sort();
    registered.dedup();
    assert_eq!(registered.len(), 100, "every registration has its own id");
    assert!(
        refused
            .iter()
            .all(|(status, code)| *status == 409 && code == "AccessToken.Exhausted"),
        "{refused:?}"
    );
    let listed = aliyun_call(
        nodes[1].address,
        &root,
        SMC_VERSION,
        "ListAccessTokens",
        &[("AccessTokenId.1", &token_id)],
    )
    .await
    .json();
    let token = &listed["AccessTokens"]["AccessToken"][0];
    assert_eq!(token["RegisteredCount"], "100");
    assert_eq!(token["Status"], "activated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nonce_accepted_by_one_node_is_refused_by_the_other() {
    use super::support::{acs3_parts, send, IMS_VERSION};
    let Some(cluster) = Cluster::new("nonce").await else {
        return;
    };
    let nodes = cluster.start_both(&[]);
    // One signed request (one nonce), sent to node A and then replayed to node B. The signed
    // host is node A's; the signature covers it, not the address it is delivered to.
    let host = nodes[0].address.to_string();
    let (raw_query, headers) = acs3_parts(
        &host,
        &cluster.aliyun_root,
        IMS_VERSION,
        "ListAccessKeys",
        &[],
        time::OffsetDateTime::now_utc(),
    );
    let request = || {
        let mut builder = http::Request::post(format!("/?{raw_query}"));
        for (name, value) in &headers {
            builder = builder.header(name, value);
        }
        builder
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    };
    let first = send(nodes[0].address, request()).await;
    first.assert_status(200);
    for node in &nodes {
        let replay = send(node.address, request()).await;
        assert_eq!(replay.status, 400);
        assert_eq!(replay.json()["Code"], "SignatureNonceUsed");
    }
}

/// The EAS registry through `keyplane eas … --database-url`, tokens issued by both nodes, and
/// each token burned exactly once when both nodes' installations redeem it at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eas_tokens_issued_on_either_node_burn_exactly_once() {
    use keyplane_aliyun::eas::{token_from_query, PublicUrls, TokenPresentation};
    use keyplane_core::model::InstanceTokenPurpose;
    use keyplane_server::config::{DataArgs, DataConfig, FileConfig};
    use keyplane_server::installation::Installation;

    let Some(cluster) = Cluster::new("eas_tokens").await else {
        return;
    };
    let registry = |arguments: &[&str]| {
        let output = Command::new(binary())
            .args(arguments)
            .arg("--data-dir")
            .arg(&cluster.node_directories[1])
            .args(cluster.arguments(&[]))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    registry(
        &[
            words("eas service create --cluster cn-beijing --name svc --exec"),
            vec![
                "kubectl exec -it {instance} -c {worker} -- /bin/sh",
                "--log",
                "kubectl logs -f {instance} -c {worker}",
            ],
        ]
        .concat(),
    );
    registry(&words(
        "eas instance add --cluster cn-beijing --service svc --name svc-1 --worker worker0",
    ));
    let listed = registry(&["eas", "service", "list"]);
    assert!(listed.contains("\"svc-1\""), "{listed}");
    let nodes = cluster.start_both(&[]);
    let mut workbench_tokens = Vec::new();
    for node in &nodes {
        let reply = super::support::create_service_instance_token(
            node.address,
            &cluster.aliyun_root,
            "cn-beijing",
            "svc",
            "svc-1",
            &[("WorkerName", "worker0")],
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.json());
        let url = reply.json()["WorkbenchUrl"].as_str().unwrap().to_owned();
        let query = url.split_once('?').unwrap().1;
        workbench_tokens.push(token_from_query(query).unwrap());
    }

    let mut gateways = Vec::new();
    for node in 0..2 {
        let data = DataConfig::resolve(
            &DataArgs {
                data_dir: Some(cluster.node_directories[node].clone()),
                config: None,
                master_key_file: Some(cluster.key_file.clone()),
                database_url: Some(cluster.url.clone()),
            },
            &FileConfig::default(),
        );
        let installation =
            Installation::open(&data, keyplane_core::AuthorityConfig::default(), false)
                .await
                .unwrap();
        gateways.push((
            keyplane_aliyun::AliyunDialect::new(
                installation.authority.clone(),
                PublicUrls::new("http://127.0.0.1").unwrap(),
            ),
            installation,
        ));
    }
    for token in &workbench_tokens {
        let mut attempts = Vec::new();
        for index in 0..20 {
            let gateway = gateways[index % 2].0.clone();
            let token = token.clone();
            attempts.push(tokio::spawn(async move {
                gateway
                    .redeem_instance_token(TokenPresentation {
                        purpose: InstanceTokenPurpose::Workbench,
                        token: &token,
                        source_address: "192.0.2.1",
                        user_agent: "cluster-test",
                        now: time::OffsetDateTime::now_utc(),
                    })
                    .await
            }));
        }
        let mut opened = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(session) => {
                    assert_eq!(session.command[3], "svc-1");
                    opened += 1;
                }
                Err(refusal) => assert_eq!(refusal.error.code, "InstanceToken.AlreadyUsed"),
            }
        }
        assert_eq!(opened, 1);
    }
    for (_, installation) in gateways {
        installation.close().await;
    }
}

/// Polls `node` with `key` (CAM `ListAccessKeys`) until its answer's code is `wanted`;
/// returns how long that took.
async fn time_until_code(node: &Server, key: &Credentials, wanted: Option<&str>) -> Duration {
    let started = Instant::now();
    loop {
        let reply = call(node.address, key, CAM_VERSION, "ListAccessKeys", "{}").await;
        if reply.error_code().as_deref() == wanted {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still {:?} after 5 s, waiting for {wanted:?}",
            reply.error_code()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_changes_on_one_node_reach_the_other_within_a_second() {
    let Some(cluster) = Cluster::new("permissions").await else {
        return;
    };
    let nodes = cluster.start_both(&["--disable-rate-limits"]);
    let added = call(
        nodes[0].address,
        &cluster.root,
        CAM_VERSION,
        "AddUser",
        &json!({ "Name": "grace", "UseApi": 1 }).to_string(),
    )
    .await;
    assert_eq!(added.error_code(), None);
    let user = added.json()["Response"].clone();
    let uin = user["Uin"].as_u64().unwrap();
    let grace = Credentials {
        secret_id: user["SecretId"].as_str().unwrap().to_owned(),
        secret_key: user["SecretKey"].as_str().unwrap().to_owned(),
    };
    // Node B loads grace's (empty) permissions and refuses.
    let denied = Some("AuthFailure.UnauthorizedOperation");
    let reply = call(
        nodes[1].address,
        &grace,
        CAM_VERSION,
        "ListAccessKeys",
        "{}",
    )
    .await;
    assert_eq!(reply.error_code().as_deref(), denied);
    // Each change on node A reaches node B within a second: attached, node B allows;
    // detached, it refuses again; deleted with its keys, it no longer knows the key.
    for (change, action, body, wanted) in [
        (
            "attach",
            "AttachUserPolicy",
            json!({ "PolicyId": 3, "AttachUin": uin }),
            None,
        ),
        (
            "detach",
            "DetachUserPolicy",
            json!({ "PolicyId": 3, "DetachUin": uin }),
            denied,
        ),
        (
            "deletion",
            "DeleteUser",
            json!({ "Name": "grace", "Force": 1 }),
            Some("AuthFailure.SecretIdNotFound"),
        ),
    ] {
        let body = body.to_string();
        let reply = call(nodes[0].address, &cluster.root, CAM_VERSION, action, &body).await;
        assert_eq!(reply.error_code(), None);
        let elapsed = time_until_code(&nodes[1], &grace, wanted).await;
        assert!(
            elapsed < Duration::from_secs(1),
            "{change} reached node B after {elapsed:?}"
        );
    }
}
