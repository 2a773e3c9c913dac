//! Hostile Tencent and Alibaba requests against a real `keyplane serve`: flat-parameter,
//! JSON and pair-count bombs (signed and not, TC3 and v1, GET and POST) leave the server's
//! peak memory (VmHWM) within 16 MiB of where it was; a TC3 signature scoped to one product
//! does not act on another (and with `--strict-credential-scope` names its product); `UNSIGNED-PAYLOAD` is refused unless the operator allows it;
//! `--require-signed-action` refuses a request whose action is not signed; and a v1 request is
//! accepted once, also across two nodes sharing PostgreSQL.

use keyplane_engine::{Headers, RequestView};
use std::net::SocketAddr;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use keyplane_crypto::tencent::{sign_tc3, sign_v1, Tc3Request, V1SignatureMethod};

use super::support::{
    init, init_with, send, Credentials, Reply, Server, API_GATEWAY_VERSION, CAM_VERSION,
};

/// The server's peak resident set size in KiB (`VmHWM`).
fn peak_resident_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .expect("reading the server's /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

/// A TC3 request: signed with `service` over the headers named, for any action and version.
struct Tc3<'a> {
    method: &'a str,
    query: &'a str,
    content_type: &'a str,
    body: &'a [u8],
    service: &'a str,
    signed_version: &'a str,
    signed_action: &'a str,
    /// The action actually sent (a swap when it differs from `signed_action`).
    sent_action: &'a str,
    sent_version: &'a str,
    unsigned_payload: bool,
    /// The body actually sent (a swap when it differs from `body`, with UNSIGNED-PAYLOAD).
    sent_body: Option<&'a [u8]>,
    signed_headers: &'a [&'a str],
}

impl<'a> Tc3<'a> {
    fn post(service: &'a str, version: &'a str, action: &'a str, body: &'a [u8]) -> Self {
        Tc3 {
            method: "POST",
            query: "",
            content_type: "application/json",
            body,
            service,
            signed_version: version,
            signed_action: action,
            sent_action: action,
            sent_version: version,
            unsigned_payload: false,
            sent_body: None,
            signed_headers: &["content-type", "host"],
        }
    }

    fn request(&self, address: SocketAddr, credentials: &Credentials) -> Request<Full<Bytes>> {
        let host = address.to_string();
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        let mut headers = vec![
            ("Content-Type", self.content_type),
            ("Host", host.as_str()),
            ("X-TC-Action", self.signed_action),
            ("X-TC-Version", self.signed_version),
            ("X-TC-Region", "ap-guangzhou"),
            ("X-TC-Timestamp", timestamp.as_str()),
        ];
        if self.unsigned_payload {
            headers.push(("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD"));
        }
        let authorization = sign_tc3(
            &Tc3Request {
                request: RequestView {
                    method: self.method,
                    path: "/",
                    raw_query: self.query,
                    headers: Headers::new(&headers),
                    body: self.body,
                },
                timestamp: &timestamp,
            },
            &credentials.secret_id,
            credentials.secret_key.as_bytes(),
            self.service,
            self.signed_headers,
        )
        .expect("signing");
        let uri = if self.query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", self.query)
        };
        let mut builder = Request::builder().method(self.method).uri(uri);
        for (name, value) in &headers {
            let value = match *name {
                "X-TC-Action" => self.sent_action,
                "X-TC-Version" => self.sent_version,
                _ => value,
            };
            builder = builder.header(*name, value);
        }
        builder
            .header("Authorization", authorization)
            .body(Full::new(Bytes::from(
                self.sent_body.unwrap_or(self.body).to_vec(),
            )))
            .expect("a request")
    }

    async fn send(&self, address: SocketAddr, credentials: &Credentials) -> Reply {
        let reply = send(address, self.request(address, credentials)).await;
        reply.assert_tencent_shaped();
        reply
    }
}

/// A signed Tencent v1 request (`HmacSHA256`), as GET query or POST form.
fn v1_request(
    address: SocketAddr,
    credentials: &Credentials,
    method: &str,
    action: &str,
    business: &[(&str, &str)],
    nonce: u64,
    timestamp: i64,
) -> Request<Full<Bytes>> {
    let host = address.to_string();
    let timestamp = timestamp.to_string();
    let nonce = nonce.to_string();
    let mut parameters: Vec<(String, String)> = [
        ("Action", action),
        ("Version", CAM_VERSION),
        ("Region", "ap-guangzhou"),
        ("Timestamp", timestamp.as_str()),
        ("Nonce", nonce.as_str()),
        ("SecretId", credentials.secret_id.as_str()),
        ("SignatureMethod", "HmacSHA256"),
    ]
    .iter()
    .chain(business.iter())
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect();
    let signature = sign_v1(
        method,
        &host,
        "/",
        &parameters,
        credentials.secret_key.as_bytes(),
        V1SignatureMethod::HmacSha256,
    );
    parameters.push(("Signature".to_owned(), signature));
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&parameters)
        .finish();
    if method == "GET" {
        Request::get(format!("/?{encoded}"))
            .header("Host", host)
            .body(Full::new(Bytes::new()))
            .unwrap()
    } else {
        Request::post("/")
            .header("Host", host)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(encoded)))
            .unwrap()
    }
}

/// `pair` repeated until the text is `bytes` long (whole pairs, `&`-joined).
fn repeated(pair: &str, bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + pair.len() + 1);
    while text.len() + pair.len() < bytes {
        text.push_str(pair);
        text.push('&');
    }
    text
}

/// Pairs made by `pair` from a counter (0, 1, 2, …), `&`-joined, until the text is `bytes`
/// long.
fn numbered(pair: impl Fn(usize) -> String, bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 32);
    let mut index = 0;
    while text.len() < bytes {
        text.push_str(&pair(index));
        text.push('&');
        index += 1;
    }
    text
}

const QUARTER_MEBIBYTE: usize = 256 * 1024;
/// The largest growth of the server's peak memory accepted over all hostile requests.
const PEAK_GROWTH_LIMIT_KIB: u64 = 16 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_bombs_do_not_grow_peak_memory() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    // The bodies are larger than the default request-body limit (64 KiB), which would refuse
    // them before any parameter is parsed: the limit is raised so that the parser is measured.
    let server = Server::start(
        directory.path(),
        &[
            "--disable-rate-limits",
            "--max-request-body-bytes",
            "4194304",
            // One request-serving thread: what is measured is what a request costs, not how
            // many threads' allocator caches a loaded machine happened to warm up.
            "--worker-threads",
            "1",
        ],
    );
    let address = server.address;
    let bogus = Credentials {
        secret_id: "AKIDbogus0000000000000000000000000000".to_owned(),
        secret_key: "bogus".to_owned(),
    };
    // Warm up with honest requests of the same size, so that what is measured is what the
    // parameters cost, not the buffers any 256 KiB body needs.
    let honest = format!("{{\"Description\": \"{}\"}}", "d".repeat(QUARTER_MEBIBYTE));
    for _ in 0..4 {
        for credentials in [&bogus, &root] {
            Tc3::post("cam", CAM_VERSION, "CreateAccessKey", honest.as_bytes())
                .send(address, credentials)
                .await;
        }
    }
    let before = peak_resident_kib(&server);
    let assert_peak = |stage: &str| {
        let now = peak_resident_kib(&server);
        assert!(
            now.saturating_sub(before) < PEAK_GROWTH_LIMIT_KIB,
            "{stage}: peak memory grew from {before} KiB to {now} KiB"
        );
    };

    // Each name a new list with one element at index 1000 (`a7.1000=`), or two levels.
    let sparse = numbered(|index| format!("a{index}.1000="), QUARTER_MEBIBYTE);
    let sparse_nested = numbered(|index| format!("a{index}.1000.1000="), QUARTER_MEBIBYTE);
    let dense_body = numbered(|index| format!("Ids.{index}="), QUARTER_MEBIBYTE);
    let empty_pairs = repeated("a", QUARTER_MEBIBYTE);
    let query_sparse = numbered(|index| format!("a{index}.1000="), 30 * 1024);
    let query_dense = numbered(|index| format!("Ids.{index}="), 30 * 1024);
    let deep_json = format!(
        "{{\"A\":{}{}}}",
        "[".repeat(QUARTER_MEBIBYTE / 2),
        "]".repeat(QUARTER_MEBIBYTE / 2)
    );
    let wide_json = format!("{{\"A\":[{}0]}}", "0,".repeat(QUARTER_MEBIBYTE / 2));
    for credentials in [&bogus, &root] {
        for body in [&sparse, &sparse_nested, &dense_body, &empty_pairs] {
            let mut request = Tc3::post("cam", CAM_VERSION, "ListUsers", body.as_bytes());
            request.content_type = "application/x-www-form-urlencoded";
            let reply = request.send(address, credentials).await;
            assert!(reply.error_code().is_some());
            assert_peak(&format!("a TC3 form body of {}…", &body[..12]));
        }
        for body in [&deep_json, &wide_json] {
            let reply = Tc3::post("cam", CAM_VERSION, "ListUsers", body.as_bytes())
                .send(address, credentials)
                .await;
            assert!(reply.error_code().is_some());
            assert_peak(&format!("a JSON body of {}…", &body[..12]));
        }
        for query in [&query_sparse, &query_dense] {
            let mut request = Tc3::post("cam", CAM_VERSION, "ListUsers", b"");
            request.method = "GET";
            request.query = query;
            request.content_type = "application/x-www-form-urlencoded";
            let reply = request.send(address, credentials).await;
            assert_eq!(
                reply.error_code().as_deref(),
                Some(if std::ptr::eq(credentials, &root) {
                    "InvalidParameter"
                } else {
                    "AuthFailure.SecretIdNotFound"
                }),
                "{}",
                String::from_utf8_lossy(&reply.body)
            );
            assert_peak(&format!("a TC3 query of {}…", &query[..12]));
        }
        // v1: the pairs are decoded before the signature is checked, and counted first.
        for (method, body) in [
            ("POST", &sparse),
            ("POST", &dense_body),
            ("GET", &query_sparse),
        ] {
            let business: Vec<(&str, &str)> = body
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| (pair.trim_end_matches('='), ""))
                .collect();
            let reply = send(
                address,
                v1_request(
                    address,
                    credentials,
                    method,
                    "ListUsers",
                    &business,
                    7,
                    now(),
                ),
            )
            .await;
            reply.assert_tencent_shaped();
            assert_peak(&format!("a v1 {method} of {}…", &body[..12]));
            assert_eq!(reply.error_code().as_deref(), Some("InvalidParameter"));
        }
    }
    // The Alibaba dialect: an RPC v1 form body of empty pairs.
    let aliyun_body = format!(
        "AccessKeyId=LTAIbogus&{}",
        repeated("a", 4 * QUARTER_MEBIBYTE)
    );
    let reply = send(
        address,
        Request::post("/")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(aliyun_body)))
            .unwrap(),
    )
    .await;
    assert_peak("an Alibaba RPC form body of empty pairs");
    reply.assert_status(400);
    // The server still serves.
    let reply = Tc3::post("cam", CAM_VERSION, "ListUsers", b"{}")
        .send(address, &root)
        .await;
    assert_eq!(reply.error_code(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_acts_only_on_the_product_of_its_scope() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    let server = Server::start(directory.path(), &["--disable-rate-limits"]);
    let address = server.address;
    // A CAM-scoped request replayed to API Gateway.
    let reply = Tc3::post("cam", API_GATEWAY_VERSION, "DescribeApiKeysStatus", b"{}")
        .send(address, &root)
        .await;
    assert_eq!(
        reply.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    assert!(reply.json()["Response"]["Error"]["Message"]
        .as_str()
        .unwrap()
        .contains("`cam`"));
    let reply = Tc3::post("apigateway", CAM_VERSION, "ListUsers", b"{}")
        .send(address, &root)
        .await;
    assert_eq!(
        reply.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    let reply = Tc3::post("cvm", CAM_VERSION, "ListUsers", b"{}")
        .send(address, &root)
        .await;
    assert_eq!(
        reply.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    // The product's own service, and the host's first label (what the Node SDK signs).
    for (service, version, action) in [
        ("cam", CAM_VERSION, "ListUsers"),
        ("apigateway", API_GATEWAY_VERSION, "DescribeApiKeysStatus"),
        ("127", CAM_VERSION, "ListUsers"),
        ("127", API_GATEWAY_VERSION, "DescribeApiKeysStatus"),
    ] {
        let reply = Tc3::post(service, version, action, b"{}")
            .send(address, &root)
            .await;
        assert_eq!(reply.error_code(), None, "{service} {action}");
    }
    drop(server);

    // Strict: only the product's own service.
    let server = Server::start(
        directory.path(),
        &["--disable-rate-limits", "--strict-credential-scope"],
    );
    let reply = Tc3::post("127", CAM_VERSION, "ListUsers", b"{}")
        .send(server.address, &root)
        .await;
    assert_eq!(
        reply.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    let reply = Tc3::post("cam", CAM_VERSION, "ListUsers", b"{}")
        .send(server.address, &root)
        .await;
    assert_eq!(reply.error_code(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_payload_is_refused_unless_the_operator_allows_it() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    let swap_body = format!("{{\"TargetUin\": {}}}", 1);
    let server = Server::start(directory.path(), &["--disable-rate-limits"]);
    let mut list_users = Tc3::post("cam", CAM_VERSION, "ListUsers", b"{}");
    list_users.unsigned_payload = true;
    let reply = list_users.send(server.address, &root).await;
    assert_eq!(
        reply.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    let message = reply.json()["Response"]["Error"]["Message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("signed payload") && message.contains("--allow-unsigned-payload"),
        "{message}"
    );
    // The captured-ListUsers-replayed-as-CreateAccessKey attack.
    let mut swapped = Tc3::post("cam", CAM_VERSION, "ListUsers", b"{}");
    swapped.unsigned_payload = true;
    swapped.sent_action = "CreateAccessKey";
    swapped.sent_body = Some(swap_body.as_bytes());
    let reply = swapped.send(server.address, &root).await;
    assert_eq!(
        reply.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    assert!(reply.json()["Response"]["AccessKey"].is_null());
    drop(server);

    let server = Server::start(
        directory.path(),
        &["--disable-rate-limits", "--allow-unsigned-payload"],
    );
    let reply = list_users.send(server.address, &root).await;
    assert_eq!(reply.error_code(), None, "allowed by the operator");
    drop(server);

    // The same from the configuration file, and the other setting there too.
    let configuration = directory.path().join("keyplane.toml");
    std::fs::write(
        &configuration,
        "allow_unsigned_payload = true\nrequire_signed_action = true\n",
    )
    .unwrap();
    let server = Server::start(
        directory.path(),
        &[
            "--disable-rate-limits",
            "--config",
            configuration.to_str().unwrap(),
        ],
    );
    list_users.signed_headers = &["content-type", "host", "x-tc-action"];
    let reply = list_users.send(server.address, &root).await;
    assert_eq!(reply.error_code(), None, "allowed in the file");
    list_users.signed_headers = &["content-type", "host"];
    let reply = list_users.send(server.address, &root).await;
    assert_eq!(
        reply.error_code().as_deref(),
        Some("AuthFailure.InvalidAuthorization"),
        "require_signed_action from the file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_signed_action_refuses_an_action_swap() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    // Without the setting, TC3 alone cannot see the swap: the unsigned action is obeyed.
    let server = Server::start(directory.path(), &["--disable-rate-limits"]);
    let mut swapped = Tc3::post("cam", CAM_VERSION, "GetUser", b"{\"Name\":\"root\"}");
    swapped.sent_action = "ListUsers";
    let reply = swapped.send(server.address, &root).await;
    assert_ne!(
        reply.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    drop(server);

    let server = Server::start(
        directory.path(),
        &["--disable-rate-limits", "--require-signed-action"],
    );
    let reply = swapped.send(server.address, &root).await;
    assert_eq!(
        reply.error_code().as_deref(),
        Some("AuthFailure.InvalidAuthorization")
    );
    let mut signed_action = Tc3::post("cam", CAM_VERSION, "ListUsers", b"{}");
    signed_action.signed_headers = &["content-type", "host", "x-tc-action"];
    let reply = signed_action.send(server.address, &root).await;
    assert_eq!(reply.error_code(), None);
    signed_action.signed_action = "GetUser";
    let reply = signed_action.send(server.address, &root).await;
    assert_eq!(
        reply.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure"),
        "a signed action cannot be swapped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_request_is_accepted_once() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    let server = Server::start(directory.path(), &["--disable-rate-limits"]);
    for method in ["GET", "POST"] {
        let timestamp = now();
        let request =
            |action| v1_request(server.address, &root, method, action, &[], 42, timestamp);
        let first = send(server.address, request("ListAccessKeys")).await;
        assert_eq!(first.error_code(), None, "{method}");
        let replayed = send(server.address, request("ListAccessKeys")).await;
        assert_eq!(
            replayed.error_code().as_deref(),
            Some("AuthFailure.SignatureFailure"),
            "{method}"
        );
        assert!(replayed.json()["Response"]["Error"]["Message"]
            .as_str()
            .unwrap()
            .contains("already received"));
        // The same Nonce and Timestamp with other parameters is another request.
        let other = send(server.address, request("ListUsers")).await;
        assert_eq!(other.error_code(), None, "{method}");
    }
    // A request whose signature fails writes no nonce: the genuine one still passes after.
    let timestamp = now();
    let wrong = Credentials {
        secret_id: root.secret_id.clone(),
        secret_key: "wrong".to_owned(),
    };
    let forged = send(
        server.address,
        v1_request(
            server.address,
            &wrong,
            "GET",
            "ListUsers",
            &[],
            5,
            timestamp,
        ),
    )
    .await;
    assert_eq!(
        forged.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    let genuine = send(
        server.address,
        v1_request(server.address, &root, "GET", "ListUsers", &[], 5, timestamp),
    )
    .await;
    assert_eq!(genuine.error_code(), None);
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_request_is_accepted_once_across_nodes() {
    let Some(url) = super::cluster::fresh_database_url("v1_replay").await else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let node_a = directory.path().join("a");
    let node_b = directory.path().join("b");
    let key_file = node_a.join("master.key");
    let root = Credentials::root(&init_with(&node_a, &["--database-url", &url]));
    let key_file = key_file.to_str().unwrap();
    let arguments = [
        "--database-url",
        url.as_str(),
        "--master-key-file",
        key_file,
        "--disable-rate-limits",
    ];
    let server_a = Server::start(&node_a, &arguments);
    std::fs::create_dir_all(&node_b).unwrap();
    let server_b = Server::start(&node_b, &arguments);
    let timestamp = now();
    let request = |address| v1_request(address, &root, "GET", "ListAccessKeys", &[], 9, timestamp);
    // Signed for node A's host, replayed to node B with node A's Host header.
    let first = send(server_a.address, request(server_a.address)).await;
    assert_eq!(first.error_code(), None);
    let replayed = send(server_b.address, request(server_a.address)).await;
    assert_eq!(
        replayed.error_code().as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
}
