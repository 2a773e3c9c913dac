//! Garbage in, Tencent-shaped answers out: random bodies, truncated JSON, wrong types, random
//! Authorization headers and query strings, odd methods, huge headers and an over-sized body
//! all get HTTP 200 `application/json` with an error Code and Message, never a panic or a
//! hang; raw non-HTTP bytes on the socket do not hurt the server. The random inputs come from
//! a fixed seed, so a failure reproduces.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::{assert_healthy, call, init, send, signed, Credentials, Server, CAM_VERSION};

fn random_bytes(random: &mut StdRng, length: usize) -> Vec<u8> {
    (0..length).map(|_| random.gen()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_tencent_shaped_errors() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    let server = Server::start(directory.path(), &["--disable-rate-limits"]);
    let address = server.address;
    let mut random = StdRng::seed_from_u64(0x6b65_7970_6c61_6e65);

    for round in 0..200 {
        let length = random.gen_range(0..2048);
        let body = random_bytes(&mut random, length);
        let content_type = [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data",
        ][round % 4];
        let mut builder = Request::post("/").header("Content-Type", content_type);
        if round % 3 == 0 {
            builder = builder
                .header("X-TC-Action", "CreateAccessKey")
                .header("X-TC-Version", CAM_VERSION)
                .header("X-TC-Timestamp", "1")
                .header("Authorization", format!("TC3-HMAC-SHA256 Credential={}/2026-01-01/cam/tc3_request, SignedHeaders=content-type;host, Signature=00", root.secret_id));
        }
        let reply = send(address, builder.body(Full::new(Bytes::from(body))).unwrap()).await;
        reply.assert_tencent_shaped();
        assert!(reply.error_code().is_some());
    }

    for round in 0..100 {
        let length = random.gen_range(1..300);
        let value: String = (0..length).map(|_| random.gen_range(' '..='~')).collect();
        let request = Request::post("/")
            .header("Content-Type", "application/json")
            .header(
                "Authorization",
                if round % 2 == 0 {
                    format!("TC3-HMAC-SHA256 {value}")
                } else {
                    value.clone()
                },
            )
            .header("X-TC-Action", "ListAccessKeys")
            .header("X-TC-Version", CAM_VERSION)
            .header("X-TC-Timestamp", "1795488150")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let reply = send(address, request).await;
        reply.assert_tencent_shaped();
        assert!(
            reply.error_code().unwrap().starts_with("AuthFailure")
                || reply.error_code().unwrap() == "MissingParameter"
        );

        let query: String = (0..length)
            .map(|_| random.gen_range(' '..='~'))
            .filter(|character| !character.is_whitespace() && *character != '#')
            .collect();
        let uri = format!("/?{}", query.replace('%', "%25"));
        if let Ok(request) = Request::get(uri.as_str()).body(Full::new(Bytes::new())) {
            send(address, request).await.assert_tencent_shaped();
        }
    }

    for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        let request = Request::builder()
            .method(method)
            .uri("/")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let reply = send(address, request).await;
        reply.assert_tencent_shaped();
        assert_eq!(reply.error_code().as_deref(), Some("UnsupportedProtocol"));
    }

    let signed_cases = [
        ("{\"TargetUin\": 1000", "InvalidParameter"),
        ("[1, 2, 3]", "InvalidParameter"),
        ("{\"TargetUin\": \"abc\"}", "InvalidParameter"),
        ("{\"TargetUin\": {\"nested\": true}}", "InvalidParameter"),
        ("{\"TargetUin\": -5}", "InvalidParameter"),
        ("{\"Description\": 42}", "InvalidParameter"),
        ("{\"Surprise\": 1}", "UnknownParameter"),
        ("{\"TargetUin\": 1}", "InvalidParameter.UserNotExist"),
    ];
    for (body, expected) in signed_cases {
        let reply = call(address, &root, CAM_VERSION, "CreateAccessKey", body).await;
        reply.assert_tencent_shaped();
        assert_eq!(reply.error_code().as_deref(), Some(expected), "body {body}");
    }
    for (body, expected) in [
        (
            json!({ "AccessKeyId": root.secret_id, "Status": 1 }),
            "InvalidParameter",
        ),
        (
            json!({ "AccessKeyId": root.secret_id, "Status": "Sleeping" }),
            "InvalidParameterValue",
        ),
        (json!({ "AccessKeyId": root.secret_id }), "MissingParameter"),
    ] {
        let body = body.to_string();
        let reply = call(address, &root, CAM_VERSION, "UpdateAccessKey", &body).await;
        assert_eq!(reply.error_code().as_deref(), Some(expected));
    }
    assert_healthy(&server).await;
}

#[tokio::test]
async fn huge_headers_and_bodies_are_refused_in_the_envelope() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    let server = Server::start(directory.path(), &[]);
    let address = server.address;

    let mut request = signed(address, &root, CAM_VERSION, "ListAccessKeys", "{}");
    request
        .headers_mut()
        .insert("X-Padding", "p".repeat(256 * 1024).parse().unwrap());
    let reply = send(address, request).await;
    reply.assert_tencent_shaped();
    assert_eq!(
        reply.error_code(),
        None,
        "a large unsigned header does not break a valid request"
    );

    let mut request = signed(address, &root, CAM_VERSION, "ListAccessKeys", "{}");
    for index in 0..100 {
        request.headers_mut().append(
            http::header::HeaderName::from_bytes(format!("x-extra-{index}").as_bytes()).unwrap(),
            "value".parse().unwrap(),
        );
    }
    send(address, request).await.assert_tencent_shaped();

    // The management APIs take at most 64 KiB by default (see docs/security/front-door.md).
    let oversized = "x".repeat(64 * 1024 + 1);
    let reply = call(address, &root, CAM_VERSION, "CreateAccessKey", &oversized).await;
    reply.assert_tencent_shaped();
    assert_eq!(
        reply.error_code().as_deref(),
        Some("RequestSizeLimitExceeded")
    );

    let mut exact = String::from("{\"Description\": \"");
    exact.push_str(&"d".repeat(64 * 1024 - exact.len() - 2));
    exact.push_str("\"}");
    let reply = call(address, &root, CAM_VERSION, "CreateAccessKey", &exact).await;
    reply.assert_tencent_shaped();
    assert_eq!(
        reply.error_code().as_deref(),
        Some("InvalidParameter.DescriptionLengthOverlimit")
    );
    assert_healthy(&server).await;
}

#[tokio::test]
async fn raw_socket_garbage_and_stalled_clients_do_not_hurt_the_server() {
    let directory = tempfile::tempdir().unwrap();
    init(directory.path());
    let server = Server::start(directory.path(), &[]);
    let mut random = StdRng::seed_from_u64(7);
    for _ in 0..50 {
        let mut stream = tokio::net::TcpStream::connect(server.address)
            .await
            .unwrap();
        let length = random.gen_range(1..4096);
        let _ = stream.write_all(&random_bytes(&mut random, length)).await;
        let _ = stream.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut sink)).await;
    }
    // A client that announces a body and never sends it holds only its own connection.
    let mut stalled = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    stalled
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    assert_healthy(&server).await;
    drop(stalled);
    assert_healthy(&server).await;
}
