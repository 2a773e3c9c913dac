//! Test support: starting `keyplane` processes, a small HTTP/1.1 client, and TC3 signing.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use keyplane_crypto::tencent::{sign_tc3, Tc3Request};
use keyplane_engine::{Headers, RequestView};
use serde_json::Value;
use tokio::net::TcpStream;

pub const CAM_VERSION: &str = "2019-01-16";
pub const API_GATEWAY_VERSION: &str = "2018-08-08";

/// The path of the binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_keyplane"))
}

/// Runs `keyplane init --json` and returns the credentials it printed.
pub fn init(data_dir: &Path) -> Value {
    init_with(data_dir, &[])
}

/// `keyplane init --json` with extra arguments (a database URL, a master key file).
pub fn init_with(data_dir: &Path, extra_arguments: &[&str]) -> Value {
    json_command(&["init", "--json"], data_dir, extra_arguments)
}

/// Runs a `keyplane` command that prints one JSON object, and returns it.
fn json_command(command: &[&str], data_dir: &Path, extra_arguments: &[&str]) -> Value {
    let output = Command::new(binary())
        .args(command)
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra_arguments)
        .output()
        .expect("running keyplane");
    assert!(
        output.status.success(),
        "keyplane {command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

/// Runs `keyplane user create` and returns the user it printed.
pub fn create_user(data_dir: &Path, name: &str) -> Value {
    create_user_with(data_dir, name, &[])
}

/// `keyplane user create` with extra arguments (a database URL, a master key file).
pub fn create_user_with(data_dir: &Path, name: &str, extra_arguments: &[&str]) -> Value {
    json_command(
        &["user", "create", "--json", "--name", name],
        data_dir,
        extra_arguments,
    )
}

/// A running `keyplane serve`, killed on drop.
pub struct Server {
    pub child: Child,
    pub address: SocketAddr,
    pub stdout_lines: Vec<String>,
}

impl Server {
    /// Starts a server on an ephemeral port and waits for its `listening on` line.
    pub fn start(data_dir: &Path, extra_arguments: &[&str]) -> Server {
        Self::start_configured(data_dir, extra_arguments, |_| {})
    }

    /// [`Server::start`], with the command adjusted by `configure` before it is spawned.
    #[allow(
        clippy::zombie_processes,
        reason = "the child is killed and waited for on every early exit, and by Server's Drop after"
    )]
    pub fn start_configured(
        data_dir: &Path,
        extra_arguments: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> Server {
        let mut command = Command::new(binary());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra_arguments)
            .env("KEYPLANE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        configure(&mut command);
        let mut child = command.spawn().expect("starting keyplane serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut reader = BufReader::new(stdout);
        let mut stdout_lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = reader.read_line(&mut line).expect("reading server output");
            assert!(
                read > 0,
                "the server exited before listening: {stdout_lines:?}"
            );
            let line = line.trim_end().to_owned();
            let address = line
                .strip_prefix("listening on http://")
                .or_else(|| line.strip_prefix("listening on https://"));
            if let Some(address) = address {
                let address = address.parse().expect("a socket address");
                stdout_lines.push(line);
                std::thread::spawn(move || for _ in reader.lines() {});
                return Server {
                    child,
                    address,
                    stdout_lines,
                };
            }
            stdout_lines.push(line);
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("sending SIGTERM");
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("waiting for the server") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The Tencent error code, if the reply is an error.
    pub fn error_code(&self) -> Option<String> {
        self.json()["Response"]["Error"]["Code"]
            .as_str()
            .map(str::to_owned)
    }

    /// Asserts the reply is Tencent-shaped: 200, `application/json`, a RequestId, and a
    /// Code and Message when it is an error.
    pub fn assert_tencent_shaped(&self) {
        assert_eq!(
            self.status,
            200,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        let json = self.json();
        let response = &json["Response"];
        assert!(response["RequestId"].is_string(), "no RequestId: {json}");
        if !response["Error"].is_null() {
            assert!(response["Error"]["Code"].is_string(), "no Code: {json}");
            assert!(
                response["Error"]["Message"].is_string(),
                "no Message: {json}"
            );
        }
    }
}

/// Sends one request on a fresh connection.
pub async fn send(address: SocketAddr, request: Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(address).await.expect("connecting");
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender.send_request(request).await.expect("sending");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

/// Asserts that the server answers `GET /healthz` with 200.
pub async fn assert_healthy(server: &Server) {
    let health = send(
        server.address,
        Request::get("/healthz")
            .body(Full::new(Bytes::new()))
            .expect("a request"),
    )
    .await;
    assert_eq!(health.status, 200);
}

/// Root or user credentials for signing.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub secret_id: String,
    pub secret_key: String,
}

impl Credentials {
    pub fn root(init_output: &Value) -> Self {
        Self {
            secret_id: init_output["tencent"]["secret_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            secret_key: init_output["tencent"]["secret_key"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }
}

/// The headers of a TC3-signed POST with a JSON body, as the Python SDK sends them.
pub fn tc3_headers(
    host: &str,
    credentials: &Credentials,
    version: &str,
    action: &str,
    body: &str,
    timestamp: i64,
) -> Vec<(String, String)> {
    let timestamp = timestamp.to_string();
    let headers = [("Content-Type", "application/json"), ("Host", host)];
    let request = Tc3Request {
        request: RequestView {
            method: "POST",
            path: "/",
            raw_query: "",
            headers: Headers::new(&headers),
            body: body.as_bytes(),
        },
        timestamp: &timestamp,
    };
    let service = if version == CAM_VERSION {
        "cam"
    } else {
        "apigateway"
    };
    let authorization = sign_tc3(
        &request,
        &credentials.secret_id,
        credentials.secret_key.as_bytes(),
        service,
        &["content-type", "host"],
    )
    .expect("signing");
    [
        ("Content-Type", "application/json"),
        ("Host", host),
        ("X-TC-Action", action),
        ("X-TC-Version", version),
        ("X-TC-Region", "ap-guangzhou"),
        ("X-TC-Timestamp", timestamp.as_str()),
        ("Authorization", authorization.as_str()),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect()
}

/// Builds a TC3-signed POST with a JSON body, as the Python SDK would.
pub fn signed(
    address: SocketAddr,
    credentials: &Credentials,
    version: &str,
    action: &str,
    body: &str,
) -> Request<Full<Bytes>> {
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let headers = tc3_headers(
        &address.to_string(),
        credentials,
        version,
        action,
        body,
        timestamp,
    );
    let mut builder = Request::post("/");
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("a request")
}

/// Signs and sends, returning the reply.
pub async fn call(
    address: SocketAddr,
    credentials: &Credentials,
    version: &str,
    action: &str,
    body: &str,
) -> Reply {
    send(address, signed(address, credentials, version, action, body)).await
}

/// The CAM `PolicyId` of the built-in `ManageOwnAccessKeys` system policy.
pub const MANAGE_OWN_ACCESS_KEYS: u64 = 3;

/// Attaches the policy `policy_id` to the user `uin`, through CAM `AttachUserPolicy` signed by
/// `root`; panics if it is refused.
pub async fn attach_policy(address: SocketAddr, root: &Credentials, uin: u64, policy_id: u64) {
    let reply = call(
        address,
        root,
        CAM_VERSION,
        "AttachUserPolicy",
        &serde_json::json!({ "PolicyId": policy_id, "AttachUin": uin }).to_string(),
    )
    .await;
    assert_eq!(
        reply.error_code(),
        None,
        "attaching policy {policy_id} to {uin}"
    );
}

/// Alibaba (ACS3 / RPC v1) credentials for signing.
#[derive(Debug, Clone)]
pub struct AliyunCredentials {
    pub access_key_id: String,
    pub access_key_secret: String,
}

impl AliyunCredentials {
    /// The root's Alibaba key from `keyplane init --json`.
    pub fn root(init_output: &Value) -> Self {
        Self {
            access_key_id: init_output["aliyun"]["access_key_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            access_key_secret: init_output["aliyun"]["access_key_secret"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }
}

pub const IMS_VERSION: &str = "2019-08-15";
pub const SMC_VERSION: &str = "2019-06-01";

/// The headers and raw query of an ACS3-signed RPC POST with the parameters in the query and
/// an empty body, as the tea SDKs send it.
pub fn acs3_parts(
    host: &str,
    credentials: &AliyunCredentials,
    version: &str,
    action: &str,
    parameters: &[(&str, &str)],
    now: time::OffsetDateTime,
) -> (String, Vec<(String, String)>) {
    let raw_query = encoded_query(parameters);
    let headers = acs3_headers(
        host,
        credentials,
        "POST",
        "/",
        &raw_query,
        version,
        action,
        now,
    );
    (raw_query, headers)
}

/// `name=value` pairs, RFC 3986-encoded, joined by `&`, in the order given.
pub fn encoded_query(parameters: &[(&str, &str)]) -> String {
    use keyplane_crypto::aliyun::percent_encode_rfc3986;
    parameters
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                percent_encode_rfc3986(name),
                percent_encode_rfc3986(value)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The headers of an ACS3-signed request with an empty body (RPC on `/`, or ROA on its
/// path), as the tea SDKs send them, with a fresh nonce.
#[allow(clippy::too_many_arguments, reason = "one argument per signed part")]
pub fn acs3_headers(
    host: &str,
    credentials: &AliyunCredentials,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    version: &str,
    action: &str,
    now: time::OffsetDateTime,
) -> Vec<(String, String)> {
    use keyplane_crypto::aliyun::{acs3_hashed_payload, sign_acs3};
    let date = now
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let nonce = format!("{:032x}", rand::random::<u128>());
    let mut headers: Vec<(String, String)> = [
        ("host", host),
        ("x-acs-action", action),
        ("x-acs-version", version),
        ("x-acs-date", date.as_str()),
        ("x-acs-signature-nonce", nonce.as_str()),
        ("x-acs-content-sha256", acs3_hashed_payload(b"").as_str()),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect();
    let signed_names: Vec<String> = headers.iter().map(|(name, _)| name.clone()).collect();
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let authorization = sign_acs3(
        &keyplane_crypto::aliyun::AliyunRequest {
            method,
            raw_path,
            raw_query,
            headers: &borrowed,
            body: b"",
        },
        &credentials.access_key_id,
        &signed_names,
        credentials.access_key_secret.as_bytes(),
    );
    headers.push(("authorization".to_owned(), authorization));
    headers
}

pub const EAS_VERSION: &str = "2021-07-01";

/// Signs (ACS3) and sends EAS `CreateServiceInstanceToken` for a worker, as the tea SDK does:
/// `GET /api/v2/services/{cluster}/{service}/instances/{instance}/token`.
pub async fn create_service_instance_token(
    address: SocketAddr,
    credentials: &AliyunCredentials,
    cluster: &str,
    service: &str,
    instance: &str,
    parameters: &[(&str, &str)],
) -> Reply {
    use keyplane_crypto::aliyun::percent_encode_rfc3986;
    let path = format!(
        "/api/v2/services/{}/{}/instances/{}/token",
        percent_encode_rfc3986(cluster),
        percent_encode_rfc3986(service),
        percent_encode_rfc3986(instance)
    );
    let raw_query = encoded_query(parameters);
    let headers = acs3_headers(
        &address.to_string(),
        credentials,
        "GET",
        &path,
        &raw_query,
        EAS_VERSION,
        "CreateServiceInstanceToken",
        time::OffsetDateTime::now_utc(),
    );
    let target = if raw_query.is_empty() {
        path
    } else {
        format!("{path}?{raw_query}")
    };
    let mut builder = Request::get(target);
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    send(address, builder.body(Full::new(Bytes::new())).unwrap()).await
}

/// Runs `keyplane` with `arguments` (and `--data-dir`), returning its exit success, standard
/// output and standard error.
pub fn keyplane(data_dir: &Path, arguments: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .args(arguments)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("running keyplane");
    (
        output.status.success(),
        String::from_utf8(output.stdout).expect("UTF-8 output"),
        String::from_utf8(output.stderr).expect("UTF-8 errors"),
    )
}

/// Signs (ACS3) and sends an RPC call with the parameters in the query, returning the reply.
pub async fn aliyun_call(
    address: SocketAddr,
    credentials: &AliyunCredentials,
    version: &str,
    action: &str,
    parameters: &[(&str, &str)],
) -> Reply {
    let (raw_query, headers) = acs3_parts(
        &address.to_string(),
        credentials,
        version,
        action,
        parameters,
        time::OffsetDateTime::now_utc(),
    );
    let mut builder = Request::post(format!("/?{raw_query}"));
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    send(address, builder.body(Full::new(Bytes::new())).unwrap()).await
}

/// Redeems an activation code at `POST /smc/v1/source-servers` for a machine.
pub async fn register_source_server(
    address: SocketAddr,
    token_id: &str,
    token_code: &str,
    fingerprint: &str,
) -> Reply {
    let body = serde_json::json!({
        "name": format!("server {fingerprint}"),
        "hostname": format!("{fingerprint}.example.internal"),
        "os": "Debian GNU/Linux 12",
        "fingerprint": fingerprint,
    })
    .to_string();
    send(
        address,
        Request::post("/smc/v1/source-servers")
            .header("content-type", "application/json")
            .header("x-keyplane-access-token-id", token_id)
            .header("x-keyplane-access-token-code", token_code)
            .body(Full::new(Bytes::from(body)))
            .unwrap(),
    )
    .await
}

/// `text` with its byte at `index` changed to another printable byte (`None` when the result
/// is not UTF-8): the one-byte mutations of the signature tests.
pub fn mutate_byte(text: &str, index: usize) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    let original = bytes[index];
    bytes[index] = if original == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).ok()
}

/// `keyplane serve`'s configuration resolved from these arguments (flags, then the environment,
/// then the file a `--config` names, then defaults), as the binary resolves it.
pub fn resolve_serve_arguments(
    arguments: &[&str],
) -> anyhow::Result<keyplane_server::config::ServeConfig> {
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        serve: keyplane_server::config::ServeArgs,
    }
    let mut argv = vec!["keyplane"];
    argv.extend_from_slice(arguments);
    keyplane_server::config::ServeConfig::resolve(&Command::try_parse_from(argv).unwrap().serve)
}
