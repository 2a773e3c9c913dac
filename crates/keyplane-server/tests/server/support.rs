//! Test support: starting `keyplane` processes and a small HTTP/1.1 client; the signing and
//! the mutations the tests use come from the shared harness, `keyplane-testkit`.

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
pub use keyplane_testkit::signing::{
    acs3_headers, acs3_parts, encoded_query, tc3_headers, AliyunCredentials, Credentials,
    API_GATEWAY_VERSION, CAM_VERSION, EAS_VERSION, IMS_VERSION, SMC_VERSION,
};
use serde_json::Value;
use tokio::net::TcpStream;

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

    /// Asserts the reply's status is `expected`, showing the body when it is not.
    pub fn assert_status(&self, expected: u16) {
        assert_eq!(
            self.status,
            expected,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
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
    let response = send_on(stream, request).await.expect("sending");
    reply_of(response).await
}

/// Sends one request over HTTP/1.1 on a connected `stream` (plain or TLS): the response, its
/// body unread, or what failed.
pub async fn send_on<S>(
    stream: S,
    request: Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| error.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|error| error.to_string())
}

/// Reads a whole response into a [`Reply`].
pub async fn reply_of(response: http::Response<hyper::body::Incoming>) -> Reply {
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

/// The server's answer to `GET /readyz`.
pub async fn readyz(address: SocketAddr) -> Reply {
    send(
        address,
        Request::get("/readyz")
            .body(Full::new(Bytes::new()))
            .expect("a request"),
    )
    .await
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
    send(
        address,
        instance_token_request(
            address,
            credentials,
            [cluster, service, instance],
            parameters,
        ),
    )
    .await
}

/// EAS `CreateServiceInstanceToken` for a worker of `[cluster, service, instance]`, signed
/// (ACS3) as the tea SDK signs it.
pub fn instance_token_request(
    address: SocketAddr,
    credentials: &AliyunCredentials,
    [cluster, service, instance]: [&str; 3],
    parameters: &[(&str, &str)],
) -> Request<Full<Bytes>> {
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
    builder.body(Full::new(Bytes::new())).unwrap()
}

/// The words of a command line written as one string, for arguments that hold no space.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Asserts that a finished command succeeded, showing its standard error when it did not.
pub fn assert_succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asserts that no file below `directory` holds `secret` in clear; `what` names the secret in
/// the failure.
pub fn assert_nothing_holds_in_clear(directory: &Path, secret: &str, what: &str) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_nothing_holds_in_clear(&path, secret, what);
        } else if path.is_file() {
            let contents = std::fs::read(&path).unwrap();
            assert!(
                !contents
                    .windows(secret.len())
                    .any(|window| window == secret.as_bytes()),
                "{} holds {what} in clear",
                path.display()
            );
        }
    }
}

/// Runs `keyplane audit` over `data_dir`.
pub fn audit_output(data_dir: &Path) -> std::process::Output {
    Command::new(binary())
        .args(["audit", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("running keyplane audit")
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
    send(
        address,
        aliyun_request(address, credentials, version, action, parameters),
    )
    .await
}

/// An RPC call with the parameters in the query, signed (ACS3).
pub fn aliyun_request(
    address: SocketAddr,
    credentials: &AliyunCredentials,
    version: &str,
    action: &str,
    parameters: &[(&str, &str)],
) -> Request<Full<Bytes>> {
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
    builder.body(Full::new(Bytes::new())).unwrap()
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

/// `keyplane serve`'s configuration resolved from a fresh configuration file holding
/// `contents` (named by `--config`) and then `flags`, as [`resolve_serve_arguments`] resolves it.
pub fn resolve_with_file(
    contents: &str,
    flags: &[&str],
) -> anyhow::Result<keyplane_server::config::ServeConfig> {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("keyplane.toml");
    std::fs::write(&file, contents).unwrap();
    let mut arguments = vec!["--config", file.to_str().unwrap()];
    arguments.extend_from_slice(flags);
    resolve_serve_arguments(&arguments)
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
