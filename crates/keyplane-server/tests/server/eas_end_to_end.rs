//! PAI-EAS end to end on one real server: the operator registers a service and its instances
//! with `keyplane eas` (names and templates checked, the registry listed as JSON lines, an
//! instance added while the server runs is visible at once, removal and deletion stop new
//! tokens), the root asks for tokens with an ACS3-signed `GET …/token`, the answer's URLs sit on
//! `--public-url` (or on the listening address by default), and the tokens burn exactly once
//! through the gateway's entry point on the same data directory; they are never stored or
//! audited in clear. Also: the public URL and the token lifetime resolve from flags, then the
//! TOML file, then defaults, and unusable values stop the server from starting.

use std::path::Path;

use keyplane_aliyun::eas::{token_from_query, PublicUrls, TokenPresentation};
use keyplane_aliyun::AliyunDialect;
use keyplane_core::model::InstanceTokenPurpose;
use keyplane_core::AuthorityConfig;
use keyplane_server::config::{DataArgs, DataConfig, FileConfig};
use keyplane_server::installation::Installation;
use serde_json::Value;

use super::support::{
    aliyun_call, assert_healthy, assert_nothing_holds_in_clear, create_service_instance_token,
    init, keyplane, words, AliyunCredentials, Reply, Server, IMS_VERSION,
};

/// The JSON lines of `keyplane eas service list`.
fn service_list(data_dir: &Path) -> Vec<Value> {
    let (success, stdout, stderr) = keyplane(data_dir, &["eas", "service", "list"]);
    assert!(success, "{stderr}");
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Runs a `keyplane eas` command expected to succeed, returning its JSON output.
fn eas_json(data_dir: &Path, arguments: &[&str]) -> Value {
    let (success, stdout, stderr) = keyplane(data_dir, arguments);
    assert!(success, "{arguments:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// Runs `keyplane eas service create --json`, returning the service's JSON.
fn create_service(data_dir: &Path, cluster: &str, name: &str, exec: &str, log: &str) -> Value {
    eas_json(
        data_dir,
        &[
            "eas",
            "service",
            "create",
            "--json",
            "--cluster",
            cluster,
            "--name",
            name,
            "--exec",
            exec,
            "--log",
            log,
        ],
    )
}

/// Runs `keyplane eas instance add --json` for an instance with `workers`, returning its JSON.
fn add_instance(
    data_dir: &Path,
    cluster: &str,
    service: &str,
    name: &str,
    workers: &[&str],
) -> Value {
    let mut arguments = vec![
        "eas",
        "instance",
        "add",
        "--json",
        "--cluster",
        cluster,
        "--service",
        service,
        "--name",
        name,
    ];
    for worker in workers {
        arguments.extend(["--worker", worker]);
    }
    eas_json(data_dir, &arguments)
}

/// Runs a `keyplane eas` command expected to fail, returning its standard error.
fn eas_refused(data_dir: &Path, arguments: &[&str]) -> String {
    let (success, stdout, stderr) = keyplane(data_dir, arguments);
    assert!(!success, "{arguments:?} succeeded: {stdout}");
    stderr
}

/// The three tokens of a successful answer, keyed by the URL they came in, after checking
/// that every URL is on `base` (`ws` for the WebSockets).
fn tokens(reply: &Reply, base: &str) -> [(InstanceTokenPurpose, String); 3] {
    let body = reply.json();
    assert_eq!(reply.status, 200, "{body}");
    let websocket_base = base
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    let token = |field: &str, prefix: String| {
        let url = body[field].as_str().unwrap();
        let query = url
            .strip_prefix(&format!("{prefix}?"))
            .unwrap_or_else(|| panic!("{field} {url} is not on {prefix}"));
        token_from_query(query).unwrap()
    };
    let terminal = token("Url", format!("{websocket_base}/eas/v1/terminal"));
    assert_eq!(body["Token"], terminal.as_str());
    [
        (
            InstanceTokenPurpose::Workbench,
            token("WorkbenchUrl", format!("{base}/eas/workbench")),
        ),
        (InstanceTokenPurpose::Terminal, terminal),
        (
            InstanceTokenPurpose::Streamlog,
            token("StreamlogUrl", format!("{websocket_base}/eas/v1/streamlog")),
        ),
    ]
}

#[tokio::test]
async fn the_registry_the_token_operation_and_burn_once_on_a_real_server() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path();
    let root = AliyunCredentials::root(&init(data_dir));

    // The registry, through the CLI.
    let service = create_service(
        data_dir,
        "cn-shanghai",
        "svc",
        "docker exec -it {instance}-{worker} sh -c 'exec /bin/bash --login'",
        "docker logs -f {instance}-{worker}",
    );
    assert_eq!(service["cluster"], "cn-shanghai");
    assert_eq!(
        service["exec"],
        serde_json::json!([
            "docker",
            "exec",
            "-it",
            "{instance}-{worker}",
            "sh",
            "-c",
            "exec /bin/bash --login"
        ])
    );
    let create = |name: &str, exec: &str| {
        vec![
            "eas".to_owned(),
            "service".to_owned(),
            "create".to_owned(),
            "--cluster".to_owned(),
            "cn-shanghai".to_owned(),
            format!("--name={name}"),
            format!("--exec={exec}"),
            "--log".to_owned(),
            "tail -f /var/log/{instance}.log".to_owned(),
        ]
    };
    for (arguments, complaint) in [
        (create("-rf", "sh"), "ServiceName"),
        (create("a b", "sh"), "ServiceName"),
        (create("other", "{instance} sh"), "ExecTemplate"),
        (create("other", "sh {pod}"), "unknown placeholder {pod}"),
        (create("other", "sh -c 'open"), "quote"),
        (create("svc", "sh"), "already exists"),
    ] {
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        let stderr = eas_refused(data_dir, &arguments);
        assert!(stderr.contains(complaint), "{arguments:?}: {stderr}");
    }
    let instance = add_instance(
        data_dir,
        "cn-shanghai",
        "svc",
        "svc-7f9c-1",
        &["worker0", "worker1"],
    );
    assert_eq!(
        instance["workers"],
        serde_json::json!(["worker0", "worker1"])
    );
    for (arguments, complaint) in [
        (
            vec!["--service", "nope", "--name", "i", "--worker", "w"],
            "service does not exist",
        ),
        (
            vec!["--service", "svc", "--name", "svc-7f9c-1", "--worker", "w"],
            "already exists",
        ),
        (
            vec!["--service", "svc", "--name", "i", "--worker", "w;id"],
            "WorkerName",
        ),
        (
            vec![
                "--service",
                "svc",
                "--name",
                "i",
                "--worker",
                "w",
                "--worker",
                "w",
            ],
            "listed twice",
        ),
        (vec!["--service", "svc", "--name", "i"], "--worker"),
    ] {
        let mut full = vec!["eas", "instance", "add", "--cluster", "cn-shanghai"];
        full.extend(arguments);
        let stderr = eas_refused(data_dir, &full);
        assert!(stderr.contains(complaint), "{full:?}: {stderr}");
    }
    let listed = service_list(data_dir);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "svc");
    assert_eq!(
        listed[0]["log"],
        serde_json::json!(["docker", "logs", "-f", "{instance}-{worker}"])
    );
    assert_eq!(listed[0]["instances"][0]["name"], "svc-7f9c-1");
    assert_eq!(
        listed[0]["instances"][0]["workers"],
        serde_json::json!(["worker0", "worker1"])
    );

    // Tokens from a real server, on the configured public URL.
    let public = "https://workbench.example.test:9443/keyplane";
    let server = Server::start(
        data_dir,
        &[
            "--public-url",
            &format!("{public}/"),
            "--instance-token-ttl",
            "60",
        ],
    );
    let address = server.address;
    assert_healthy(&server).await;
    let issued = create_service_instance_token(
        address,
        &root,
        "cn-shanghai",
        "svc",
        "svc-7f9c-1",
        &[("WorkerName", "worker1"), ("ActionType", "WorkBench")],
    )
    .await;
    let first = tokens(&issued, public);
    let unknown = create_service_instance_token(
        address,
        &root,
        "cn-shanghai",
        "svc",
        "svc-7f9c-1",
        &[("WorkerName", "worker7")],
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.json()["Code"].clone()),
        (404, "InvalidWorker.NotFound".into())
    );
    // An instance the operator adds while the server runs is usable at once.
    add_instance(data_dir, "cn-shanghai", "svc", "svc-7f9c-2", &["main"]);
    let second =
        create_service_instance_token(address, &root, "cn-shanghai", "svc", "svc-7f9c-2", &[])
            .await;
    let second = tokens(&second, public);
    // The RPC products still answer beside EAS.
    let keys = aliyun_call(address, &root, IMS_VERSION, "ListAccessKeys", &[]).await;
    assert_eq!(keys.status, 200, "{}", keys.json());
    server.terminate();

    // The gateway's entry point on the same installation burns each token once.
    let data = DataConfig::resolve(
        &DataArgs {
            data_dir: Some(data_dir.to_path_buf()),
            config: None,
            master_key_file: None,
            database_url: None,
        },
        &FileConfig::default(),
    );
    let installation = Installation::open(&data, AuthorityConfig::default(), false)
        .await
        .unwrap();
    let gateway = AliyunDialect::new(
        installation.authority.clone(),
        PublicUrls::new(public).unwrap(),
    );
    let now = time::OffsetDateTime::now_utc();
    let present = |purpose: InstanceTokenPurpose, token: &str, now: time::OffsetDateTime| {
        let gateway = gateway.clone();
        let token = token.to_owned();
        async move {
            gateway
                .redeem_instance_token(TokenPresentation {
                    purpose,
                    token: &token,
                    source_address: "203.0.113.5",
                    user_agent: "end-to-end",
                    now,
                })
                .await
        }
    };
    let (purpose, workbench) = &first[0];
    let session = present(*purpose, workbench, now).await.unwrap();
    assert_eq!(session.worker, "worker1");
    assert_eq!(
        session.command,
        [
            "docker",
            "exec",
            "-it",
            "svc-7f9c-1-worker1",
            "sh",
            "-c",
            "exec /bin/bash --login"
        ]
    );
    assert_eq!(session.key_id, root.access_key_id);
    let again = present(*purpose, workbench, now).await.unwrap_err();
    assert_eq!(again.error.code, "InstanceToken.AlreadyUsed");
    let (purpose, streamlog) = &first[2];
    let log = present(*purpose, streamlog, now).await.unwrap();
    assert_eq!(log.command, ["docker", "logs", "-f", "svc-7f9c-1-worker1"]);
    // The time to live came from --instance-token-ttl.
    let (purpose, late) = &second[1];
    let expired = present(*purpose, late, now + time::Duration::seconds(61))
        .await
        .unwrap_err();
    assert_eq!(expired.error.code, "InstanceToken.Expired");
    let session = present(*purpose, late, now).await.unwrap();
    assert_eq!(
        (session.instance.as_str(), session.worker.as_str()),
        ("svc-7f9c-2", "main")
    );
    // Concurrent presentations of one token: exactly one opens.
    let (purpose, terminal) = &first[1];
    let attempts: Vec<_> = (0..20)
        .map(|_| tokio::spawn(present(*purpose, terminal, now)))
        .collect();
    let mut opened = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => opened += 1,
            Err(refusal) => assert_eq!(refusal.error.code, "InstanceToken.AlreadyUsed"),
        }
    }
    assert_eq!(opened, 1);
    installation.authority.flush().await.unwrap();
    installation.close().await;
    drop(gateway);

    let (success, audit, stderr) = keyplane(data_dir, &["audit"]);
    assert!(success, "{stderr}");
    for expected in [
        "\"action\":\"CreateEasService\"",
        "\"action\":\"AddEasInstance\"",
        "\"action\":\"CreateServiceInstanceToken\"",
        "\"outcome\":\"InvalidWorker.NotFound\"",
        "\"action\":\"OpenWorkbench\"",
        "\"action\":\"OpenStreamlog\"",
        "\"outcome\":\"InstanceToken.AlreadyUsed\"",
        "\"outcome\":\"InstanceToken.Expired\"",
    ] {
        assert!(audit.contains(expected), "{expected} not audited");
    }
    for (_, token) in first.iter().chain(&second) {
        assert!(!audit.contains(token.as_str()));
        assert_nothing_holds_in_clear(data_dir, token, "a token");
    }
}

#[tokio::test]
async fn token_urls_default_to_the_listening_address_and_deleted_services_open_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path();
    let root = AliyunCredentials::root(&init(data_dir));
    create_service(data_dir, "cn-hangzhou", "dev", "/bin/sh", "journalctl -f");
    add_instance(data_dir, "cn-hangzhou", "dev", "local", &["shell"]);
    let server = Server::start(data_dir, &[]);
    let reply =
        create_service_instance_token(server.address, &root, "cn-hangzhou", "dev", "local", &[])
            .await;
    tokens(&reply, &format!("http://{}", server.address));
    let (success, _, stderr) = keyplane(
        data_dir,
        &words("eas instance remove --cluster cn-hangzhou --service dev --name local"),
    );
    assert!(success, "{stderr}");
    let refusal = || async {
        let gone = create_service_instance_token(
            server.address,
            &root,
            "cn-hangzhou",
            "dev",
            "local",
            &[],
        )
        .await;
        (gone.status, gone.json()["Code"].clone())
    };
    assert_eq!(refusal().await, (404, "InvalidInstance.NotFound".into()));
    let delete_service = words("eas service delete --cluster cn-hangzhou --name dev");
    let (success, _, stderr) = keyplane(data_dir, &delete_service);
    assert!(success, "{stderr}");
    assert!(service_list(data_dir).is_empty());
    assert_eq!(refusal().await, (404, "InvalidService.NotFound".into()));
    let stderr = eas_refused(data_dir, &delete_service);
    assert!(stderr.contains("service does not exist"), "{stderr}");
    server.terminate();
    // A public URL that cannot make absolute URLs is refused at start.
    for (arguments, expected) in [
        ("--public-url ftp://example.test", "http:// or https://"),
        ("--instance-token-ttl 0", "time to live"),
    ] {
        let serve = format!("serve --listen 127.0.0.1:0 {arguments}");
        let (success, _, stderr) = keyplane(data_dir, &words(&serve));
        assert!(!success);
        assert!(stderr.contains(expected), "{stderr}");
    }
}

#[test]
fn the_public_url_and_token_lifetime_come_from_flags_then_the_file_then_defaults() {
    let resolve = super::support::resolve_with_file;
    let defaults = super::support::resolve_serve_arguments(&[]).unwrap();
    assert_eq!(defaults.public_url, None);
    assert_eq!(defaults.instance_token_ttl, time::Duration::seconds(300));

    let contents = "public_url = \"https://toml.example/kp/\"\ninstance_token_ttl_seconds = 120\n";
    let from_file = resolve(contents, &[]).unwrap();
    assert_eq!(
        from_file.public_url.as_ref().map(PublicUrls::base),
        Some("https://toml.example/kp")
    );
    assert_eq!(from_file.instance_token_ttl, time::Duration::seconds(120));
    let from_flags = resolve(
        contents,
        &[
            "--public-url",
            "http://flag.example:8080",
            "--instance-token-ttl",
            "30",
        ],
    )
    .unwrap();
    assert_eq!(
        from_flags.public_url.as_ref().map(PublicUrls::base),
        Some("http://flag.example:8080")
    );
    assert_eq!(from_flags.instance_token_ttl, time::Duration::seconds(30));

    for (contents, complaint) in [
        ("instance_token_ttl_seconds = 86401\n", "1 to 86400 seconds"),
        ("instance_token_ttl_seconds = -5\n", "1 to 86400 seconds"),
        ("public_url = \"keyplane.example\"\n", "http:// or https://"),
        ("public_url = \"https://kp.example/?x=1\"\n", "query"),
    ] {
        let error = format!("{:#}", resolve(contents, &[]).unwrap_err());
        assert!(error.contains(complaint), "{contents}: {error}");
    }
}
