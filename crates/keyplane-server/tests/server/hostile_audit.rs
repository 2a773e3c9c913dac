//! Refusals cost the attacker, not the operator, against a real `keyplane serve`: thousands of
//! unauthenticated refusals (made-up SecretIds and AccessKeyIds, bad signatures with a real
//! key, bad activation codes) add a bounded handful of audit rows; a source address that keeps
//! failing authentication is answered with the dialect's throttling error on every route while
//! another address (127.0.0.2) is served normally, while refusals of a proven credential (a
//! used-up activation code) do not count; `keyplane audit prune` removes old records only and
//! records itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::net::TcpSocket;

use super::support::{
    aliyun_call, aliyun_request, create_user, init, keyplane, register_source_server, signed,
    AliyunCredentials, Credentials, Reply, Server, CAM_VERSION, IMS_VERSION, SMC_VERSION,
};

const OTHER_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A keep-alive HTTP/1.1 connection from a chosen loopback address.
struct Client {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Client {
    async fn connect(server: SocketAddr, local: Ipv4Addr) -> Client {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .bind(SocketAddr::new(IpAddr::V4(local), 0))
            .expect("binding a loopback address");
        let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(server))
            .await
            .expect("connecting in time")
            .expect("connecting");
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Client { sender }
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Reply {
        let response = tokio::time::timeout(Duration::from_secs(10), async {
            self.sender.ready().await.expect("connection ready");
            self.sender.send_request(request).await.expect("sending")
        })
        .await
        .expect("an answer in time");
        super::support::reply_of(response).await
    }
}

/// `prefix` and `length` random hexadecimal digits (at most 128).
fn made_up_id(prefix: &str, length: usize) -> String {
    let random: String = (0..4)
        .map(|_| format!("{:032x}", rand::random::<u128>()))
        .collect();
    format!("{prefix}{}", &random[..length.min(128)])
}

/// How many aggregation intervals (wall-clock minutes) the span from `started` to now touched.
fn intervals_since(started: time::OffsetDateTime) -> usize {
    let minute = |moment: time::OffsetDateTime| moment.unix_timestamp().div_euclid(60);
    (minute(time::OffsetDateTime::now_utc()) - minute(started) + 1) as usize
}

fn tc3_request(server: SocketAddr, credentials: &Credentials) -> Request<Full<Bytes>> {
    signed(server, credentials, CAM_VERSION, "ListUsers", "{}")
}

fn acs3_request(server: SocketAddr, credentials: &AliyunCredentials) -> Request<Full<Bytes>> {
    aliyun_request(server, credentials, IMS_VERSION, "ListUsers", &[])
}

fn registration_request(token_id: &str) -> Request<Full<Bytes>> {
    let body = json!({
        "name": "server", "hostname": "h.example.internal", "os": "Linux", "fingerprint": "f",
    });
    Request::post("/smc/v1/source-servers")
        .header("content-type", "application/json")
        .header("x-keyplane-access-token-id", token_id)
        .header("x-keyplane-access-token-code", "not-the-code")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn eas_request(server: SocketAddr, credentials: &AliyunCredentials) -> Request<Full<Bytes>> {
    super::support::instance_token_request(
        server,
        credentials,
        ["cn-shanghai", "svc", "svc-1"],
        &[],
    )
}

fn terminal_request(server: SocketAddr) -> Request<Full<Bytes>> {
    Request::get("/eas/v1/terminal?token=made-up-token")
        .header("host", server.to_string())
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn tencent_code(reply: &Reply) -> String {
    reply.assert_tencent_shaped();
    reply.json()["Response"]["Error"]["Code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn aliyun_code(reply: &Reply) -> (u16, String) {
    (
        reply.status,
        reply.json()["Code"].as_str().unwrap_or("").to_owned(),
    )
}

/// Every audit record, through `keyplane audit`.
fn audit_lines(data_dir: &Path) -> Vec<Value> {
    let (success, stdout, stderr) = keyplane(data_dir, &["audit"]);
    assert!(success, "{stderr}");
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_thousand_unauthenticated_refusals_add_a_handful_of_audit_rows() {
    let directory = TempDir::new().unwrap();
    let data_dir = directory.path();
    let credentials = init(data_dir);
    let root = Credentials::root(&credentials);
    let before = audit_lines(data_dir).len();
    // The throttle is off here: this counts what aggregation alone does.
    let server = Server::start(data_dir, &["--auth-failure-limit", "0"]);
    let address = server.address;
    let mut client = Client::connect(address, Ipv4Addr::LOCALHOST).await;
    let wrong_secret = Credentials {
        secret_id: root.secret_id.clone(),
        secret_key: "WrongSecret00000000000000000EXMP".to_owned(),
    };
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc();
    for round in 0..1_000 {
        let made_up = Credentials {
            secret_id: made_up_id("AKID", 32),
            secret_key: "x".repeat(32),
        };
        let reply = client.send(tc3_request(address, &made_up)).await;
        assert_eq!(tencent_code(&reply), "AuthFailure.SecretIdNotFound");
        let reply = client.send(tc3_request(address, &wrong_secret)).await;
        assert_eq!(tencent_code(&reply), "AuthFailure.SignatureFailure");
        let made_up = AliyunCredentials {
            access_key_id: made_up_id("LTAI", 20 + round % 100),
            access_key_secret: "y".repeat(30),
        };
        let reply = client.send(acs3_request(address, &made_up)).await;
        assert_eq!(aliyun_code(&reply).1, "InvalidAccessKeyId.NotFound");
        let reply = client
            .send(registration_request(&made_up_id("at-", 24)))
            .await;
        assert_eq!(aliyun_code(&reply).0 / 100, 4, "a bad activation code");
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "4,000 requests took too long"
        );
    }
    // An authenticated request is still answered, and audited as before.
    let reply = client.send(tc3_request(address, &root)).await;
    reply.assert_tencent_shaped();
    assert!(reply.json()["Response"]["Error"].is_null());
    let intervals = intervals_since(started_at);
    assert!(server.terminate().success());

    // Per interval: 16 aggregates for the address's first claimed ids, one per code for the
    // rest, one for the real key.
    let lines = audit_lines(data_dir);
    let added = &lines[before..];
    assert!(
        added.len() <= 24 * intervals,
        "4,000 unauthenticated refusals added {} audit rows over {intervals} interval(s)",
        added.len()
    );
    let count = |line: &Value| -> u64 {
        line["detail"]
            .as_str()
            .and_then(|detail| detail.strip_prefix("unauthenticated_refusals="))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|count| count.parse().ok())
            .unwrap_or(0)
    };
    let counted: u64 = added.iter().map(count).sum();
    assert_eq!(counted, 4_000, "every refusal is counted: {added:#?}");
    let real_key: Vec<&Value> = added
        .iter()
        .filter(|line| line["outcome"] == "AuthFailure.SignatureFailure")
        .collect();
    assert!(!real_key.is_empty() && real_key.len() <= intervals);
    for line in &real_key {
        assert_eq!(
            line["key_id"].as_str(),
            Some(root.secret_id.as_str()),
            "the attack on the real key has its own record"
        );
        assert_eq!(line["source_address"], "127.0.0.1");
    }
    assert_eq!(real_key.iter().map(|line| count(line)).sum::<u64>(), 1_000);
    for line in added {
        let key_id = line["key_id"].as_str().unwrap_or("");
        assert!(
            key_id == root.secret_id || key_id == "*" || key_id.starts_with("unknown:"),
            "a made-up id is not stored in full: {line}"
        );
        assert!(key_id.len() <= 36, "{key_id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_keeps_failing_authentication_is_throttled_on_every_route_and_no_one_else_is()
{
    let directory = TempDir::new().unwrap();
    let data_dir = directory.path();
    let credentials = init(data_dir);
    let root = Credentials::root(&credentials);
    let aliyun_root = AliyunCredentials::root(&credentials);
    // One failure a second after a burst of 20.
    let server = Server::start(
        data_dir,
        &["--auth-failure-limit", "1", "--auth-failure-burst", "20"],
    );
    let address = server.address;
    let started_at = time::OffsetDateTime::now_utc();
    let mut attacker = Client::connect(address, Ipv4Addr::LOCALHOST).await;
    let wrong_secret = Credentials {
        secret_id: root.secret_id.clone(),
        secret_key: "WrongSecret00000000000000000EXMP".to_owned(),
    };
    for _ in 0..20 {
        let reply = attacker.send(tc3_request(address, &wrong_secret)).await;
        assert_eq!(tencent_code(&reply), "AuthFailure.SignatureFailure");
    }
    // Each check below first spends the one failure that may have refilled since (its own
    // answer is either), so that the check itself always meets an exhausted budget.
    let top_up = async |attacker: &mut Client| {
        let reply = attacker.send(tc3_request(address, &wrong_secret)).await;
        let code = tencent_code(&reply);
        assert!(
            code == "AuthFailure.SignatureFailure"
                || code == "RequestLimitExceeded.IPLimitExceeded",
            "{code}"
        );
    };
    top_up(&mut attacker).await;
    let reply = attacker.send(tc3_request(address, &wrong_secret)).await;
    assert_eq!(tencent_code(&reply), "RequestLimitExceeded.IPLimitExceeded");
    top_up(&mut attacker).await;
    let reply = attacker.send(tc3_request(address, &root)).await;
    assert_eq!(
        tencent_code(&reply),
        "RequestLimitExceeded.IPLimitExceeded",
        "even a correctly signed request from the throttled address"
    );
    top_up(&mut attacker).await;
    let reply = attacker.send(acs3_request(address, &aliyun_root)).await;
    assert_eq!(aliyun_code(&reply), (400, "Throttling".to_owned()));
    top_up(&mut attacker).await;
    let reply = attacker.send(registration_request("at-madeup")).await;
    assert_eq!(aliyun_code(&reply), (400, "Throttling".to_owned()));
    top_up(&mut attacker).await;
    let reply = attacker.send(eas_request(address, &aliyun_root)).await;
    assert_eq!(aliyun_code(&reply), (400, "Throttling".to_owned()));
    top_up(&mut attacker).await;
    let reply = attacker.send(terminal_request(address)).await;
    assert_eq!(aliyun_code(&reply), (400, "Throttling".to_owned()));

    // Another address is unaffected, for the same key and for its own failures.
    let mut other = Client::connect(address, OTHER_ADDRESS).await;
    let reply = other.send(tc3_request(address, &root)).await;
    reply.assert_tencent_shaped();
    assert!(
        reply.json()["Response"]["Error"].is_null(),
        "{}",
        reply.json()
    );
    let reply = other.send(acs3_request(address, &aliyun_root)).await;
    assert_eq!(reply.status, 200, "{}", reply.json());
    let reply = other.send(tc3_request(address, &wrong_secret)).await;
    assert_eq!(tencent_code(&reply), "AuthFailure.SignatureFailure");
    let reply = other.send(terminal_request(address)).await;
    assert_eq!(
        aliyun_code(&reply),
        (401, "InvalidInstanceToken".to_owned())
    );
    let intervals = intervals_since(started_at);
    assert!(server.terminate().success());

    // The throttled requests are in the audit log, aggregated too.
    let lines = audit_lines(data_dir);
    let throttled: Vec<&Value> = lines
        .iter()
        .filter(|line| line["outcome"] == "RequestLimitExceeded.IPLimitExceeded")
        .collect();
    assert!(
        !throttled.is_empty() && throttled.len() <= intervals,
        "{throttled:#?}"
    );
    assert!(throttled
        .iter()
        .all(|line| line["source_address"] == "127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_prune_removes_only_old_records_and_records_itself() {
    let directory = TempDir::new().unwrap();
    let data_dir = directory.path();
    init(data_dir);
    create_user(data_dir, "alice");
    create_user(data_dir, "bob");
    let initial = audit_lines(data_dir);
    assert_eq!(initial.len(), 2);

    let (success, stdout, stderr) = keyplane(data_dir, &["audit", "prune", "--older-than", "90d"]);
    assert!(success, "{stderr}");
    assert!(
        stdout.starts_with("Removed 0 audit records older than"),
        "{stdout}"
    );
    let lines = audit_lines(data_dir);
    assert_eq!(
        lines[..initial.len()],
        initial[..],
        "nothing recent is removed"
    );
    let own = lines.last().unwrap();
    assert_eq!(own["action"], "PruneAuditLog");
    assert_eq!(own["product"], "keyplane");
    assert_eq!(own["source_address"], "local");
    assert!(own["detail"]
        .as_str()
        .unwrap()
        .starts_with("removed=0 before="));

    for bad in ["90", "90x", "d", "-1d", "99999999999999999d", "99999999d"] {
        let (success, _, stderr) = keyplane(data_dir, &["audit", "prune", "--older-than", bad]);
        assert!(!success, "{bad} was accepted");
        assert!(
            stderr.contains("older-than") || stderr.contains("age"),
            "{stderr}"
        );
    }

    // Everything written so far is older than a second in a moment; prune it.
    std::thread::sleep(Duration::from_millis(1_100));
    let (success, stdout, stderr) = keyplane(data_dir, &["audit", "prune", "--older-than", "1s"]);
    assert!(success, "{stderr}");
    let expected = initial.len() + 1;
    assert!(
        stdout.starts_with(&format!("Removed {expected} audit records")),
        "{stdout}"
    );
    let lines = audit_lines(data_dir);
    assert_eq!(
        lines.len(),
        1,
        "only the last prune's own record: {lines:#?}"
    );
    assert!(lines[0]["detail"]
        .as_str()
        .unwrap()
        .starts_with(&format!("removed={expected} before=")));
    // Its sequence number continues the log: nothing is renumbered.
    assert!(lines[0]["sequence"].as_i64().unwrap() > expected as i64);
}

/// A fleet behind one address redeeming a code that is used up proves the code each time: it
/// is answered `AccessToken.Exhausted`, never throttled; a wrong code from there still counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_a_proven_credential_do_not_throttle_its_address() {
    let directory = TempDir::new().unwrap();
    let data_dir = directory.path();
    let credentials = init(data_dir);
    let aliyun_root = AliyunCredentials::root(&credentials);
    let server = Server::start(
        data_dir,
        &["--auth-failure-limit", "1", "--auth-failure-burst", "3"],
    );
    let address = server.address;
    let created = aliyun_call(
        address,
        &aliyun_root,
        SMC_VERSION,
        "CreateAccessToken",
        &[("Name", "rack"), ("Count", "1"), ("TimeToLiveInDays", "1")],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.json());
    let token_id = created.json()["AccessTokenId"].as_str().unwrap().to_owned();
    let code = created.json()["AccessTokenCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = register_source_server(address, &token_id, &code, "machine-0000").await;
    assert_eq!(first.status, 201);
    for index in 1..=20 {
        let reply =
            register_source_server(address, &token_id, &code, &format!("machine-{index:04}")).await;
        assert_eq!(
            aliyun_code(&reply),
            (409, "AccessToken.Exhausted".to_owned())
        );
    }
    for _ in 0..3 {
        let reply = register_source_server(address, &token_id, "wrong-code", "machine-x").await;
        assert_eq!(aliyun_code(&reply).1, "InvalidAccessToken");
    }
    // One more, in case a failure refilled meanwhile (answered either way).
    let reply = register_source_server(address, &token_id, "wrong-code", "machine-x").await;
    assert!(["InvalidAccessToken", "Throttling"].contains(&aliyun_code(&reply).1.as_str()));
    let reply = register_source_server(address, &token_id, &code, "machine-y").await;
    assert_eq!(aliyun_code(&reply), (400, "Throttling".to_owned()));
    drop(server);
}
