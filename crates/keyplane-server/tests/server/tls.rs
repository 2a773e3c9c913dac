//! Native TLS on a real `keyplane serve`, with a test CA made at run time: `/healthz` and a
//! signed CAM call over https, the https public URL, plain HTTP to the TLS port refused
//! cleanly, a renewed certificate picked up on SIGHUP and when its files change (a broken
//! renewal keeps the certificate in use), and the EAS WebSockets over TLS.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::{init, signed, words, Credentials, Server, CAM_VERSION};

/// A certificate authority and a server certificate for 127.0.0.1 that it signed.
struct TestPki {
    authority: CertificateDer<'static>,
    certificate_pem: String,
    key_pem: String,
}

fn test_pki(name: &str) -> TestPki {
    let mut authority = CertificateParams::new(Vec::<String>::new()).unwrap();
    authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    authority
        .distinguished_name
        .push(DnType::CommonName, format!("Keyplane test CA {name}"));
    let authority_key = KeyPair::generate().unwrap();
    let authority = authority.self_signed(&authority_key).unwrap();
    let leaf =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf
        .signed_by(&leaf_key, &authority, &authority_key)
        .unwrap();
    TestPki {
        authority: authority.der().clone(),
        certificate_pem: leaf.pem(),
        key_pem: leaf_key.serialize_pem(),
    }
}

fn write_pair(directory: &Path, pki: &TestPki) {
    std::fs::write(directory.join("server.crt"), &pki.certificate_pem).unwrap();
    std::fs::write(directory.join("server.key"), &pki.key_pem).unwrap();
}

/// A TLS client that trusts only `authority`.
fn trusting(authority: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(authority.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Sends `request` over TLS, trusting only `authority`.
async fn send_tls(
    address: SocketAddr,
    authority: &CertificateDer<'static>,
    request: Request<Full<Bytes>>,
) -> Result<(u16, Bytes), String> {
    let connector = trusting(authority);
    let tcp = TcpStream::connect(address)
        .await
        .map_err(|error| error.to_string())?;
    let stream = connector
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .map_err(|error| format!("TLS: {error}"))?;
    let response = super::support::send_on(stream, request).await?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| error.to_string())?
        .to_bytes();
    Ok((status, body))
}

/// Whether `GET /healthz` over TLS trusting `authority` succeeds within 50 tries, 100 ms apart.
async fn served_within_five_seconds(
    address: std::net::SocketAddr,
    authority: &CertificateDer<'static>,
) -> bool {
    for _ in 0..50 {
        if send_tls(address, authority, healthz()).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn healthz() -> Request<Full<Bytes>> {
    Request::get("/healthz")
        .header("host", "127.0.0.1")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_the_apis_and_reloads_its_certificate() {
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    let root = Credentials::root(&init(&data));
    let first = test_pki("one");
    write_pair(directory.path(), &first);
    let certificate = directory.path().join("server.crt");
    let key = directory.path().join("server.key");
    let log_path = directory.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Server::start_configured(
        &data,
        &[
            "--tls-cert",
            certificate.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--tls-reload-interval",
            "1",
        ],
        |command| {
            command
                .env("KEYPLANE_LOG", "info")
                .env("KEYPLANE_LOG_FORMAT", "json")
                .stderr(Stdio::from(log));
        },
    );
    assert!(server
        .stdout_lines
        .last()
        .unwrap()
        .starts_with("listening on https://"));
    let address = server.address;

    assert_eq!(
        send_tls(address, &first.authority, healthz()).await,
        Ok((200, Bytes::from_static(b"ok\n")))
    );
    let (status, body) = send_tls(
        address,
        &first.authority,
        signed(address, &root, CAM_VERSION, "ListAccessKeys", "{}"),
    )
    .await
    .unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200);
    assert!(reply["Response"]["Error"].is_null(), "{reply}");
    assert!(reply["Response"]["AccessKeys"].is_array(), "{reply}");
    // The public URL (EAS token URLs, the Workbench's Secure cookie) is https.
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logged.contains(&format!("\"public_url\":\"https://{address}\"")),
        "{logged}"
    );

    // Plain HTTP to the TLS port: closed without an HTTP answer, and nothing else suffers.
    let mut plain = TcpStream::connect(address).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), plain.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "plain HTTP was not closed within 3 s");
    assert!(!received.starts_with(b"HTTP/1.1 200"));
    assert_eq!(
        send_tls(address, &first.authority, healthz())
            .await
            .map(|(status, _)| status),
        Ok(200)
    );

    // A renewal signed by another authority, picked up on SIGHUP without a restart.
    let second = test_pki("two");
    write_pair(directory.path(), &second);
    let pid = server.child.id().to_string();
    let hangup = |pid: &str| {
        std::process::Command::new("kill")
            .args(["-HUP", pid])
            .status()
            .unwrap()
    };
    assert!(hangup(&pid).success());
    assert!(
        served_within_five_seconds(address, &second.authority).await,
        "the renewed certificate was not served"
    );
    assert!(
        send_tls(address, &first.authority, healthz())
            .await
            .is_err(),
        "the old certificate is still served"
    );

    // A broken renewal (a key that is not the certificate's) keeps the one in use.
    std::fs::write(&key, test_pki("three").key_pem).unwrap();
    assert!(hangup(&pid).success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        send_tls(address, &second.authority, healthz())
            .await
            .map(|(status, _)| status),
        Ok(200)
    );
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.contains("the previous one stays in use"), "{logged}");

    // A renewal noticed by its files' change alone (checked every second here).
    let fourth = test_pki("four");
    write_pair(directory.path(), &fourth);
    assert!(
        served_within_five_seconds(address, &fourth.authority).await,
        "the changed files were not picked up"
    );
}

#[test]
fn a_missing_or_mismatched_pair_stops_the_start() {
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    init(&data);
    let pki = test_pki("one");
    write_pair(directory.path(), &pki);
    std::fs::write(directory.path().join("other.key"), test_pki("two").key_pem).unwrap();
    let certificate = directory.path().join("server.crt");
    for arguments in [
        vec!["--tls-cert", certificate.to_str().unwrap()],
        vec![
            "--tls-cert",
            certificate.to_str().unwrap(),
            "--tls-key",
            directory.path().join("other.key").to_str().unwrap(),
        ],
    ] {
        let output = std::process::Command::new(super::support::binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(&arguments)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--tls-key") || stderr.contains("does not belong"),
            "{stderr}"
        );
    }
}

/// Runs a `keyplane` command on `data_dir` that must succeed.
fn operator(data_dir: &Path, arguments: &[&str]) {
    let (success, _, stderr) = super::support::keyplane(data_dir, arguments);
    assert!(success, "{arguments:?}: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eas_token_urls_are_https_and_their_websockets_run_over_tls() {
    use futures_util::StreamExt;
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    let root = super::support::AliyunCredentials::root(&init(&data));
    operator(
        &data,
        &[
            words("eas service create --cluster cn-hangzhou --name dev --exec /bin/sh --log"),
            vec!["/bin/echo log-over-tls"],
        ]
        .concat(),
    );
    operator(
        &data,
        &words("eas instance add --cluster cn-hangzhou --service dev --name local --worker shell"),
    );
    let pki = test_pki("one");
    write_pair(directory.path(), &pki);
    let certificate = directory.path().join("server.crt");
    let key = directory.path().join("server.key");
    let server = Server::start(
        &data,
        &[
            "--tls-cert",
            certificate.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let address = server.address;
    let request = super::support::instance_token_request(
        address,
        &root,
        ["cn-hangzhou", "dev", "local"],
        &[],
    );
    let (status, body) = send_tls(address, &pki.authority, request).await.unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{answer}");
    let workbench = answer["WorkbenchUrl"].as_str().unwrap();
    assert!(
        workbench.starts_with(&format!("https://{address}/eas/workbench?")),
        "{answer}"
    );
    let streamlog = answer["StreamlogUrl"].as_str().unwrap();
    assert!(
        streamlog.starts_with(&format!("wss://{address}/eas/v1/streamlog?")),
        "{answer}"
    );

    // The log stream's WebSocket upgrade, on a TLS connection.
    let tcp = TcpStream::connect(address).await.unwrap();
    let stream = trusting(&pki.authority)
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (mut socket, response) = tokio_tungstenite::client_async(streamlog, stream)
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    let mut output = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = socket.next().await {
            if let Ok(text) = message.to_text() {
                output.push_str(text);
            }
            if let tokio_tungstenite::tungstenite::Message::Binary(bytes) = &message {
                output.push_str(&String::from_utf8_lossy(bytes));
            }
            if output.contains("log-over-tls") {
                break;
            }
        }
    })
    .await;
    assert!(
        read.is_ok() && output.contains("log-over-tls"),
        "{output:?}"
    );
}
