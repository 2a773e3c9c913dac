//! Hostile clients at the front door of a real `keyplane serve`: thousands of idle
//! connections, stalled multi-megabyte uploads, a slowloris header sender, slow and stalled
//! bodies, an idle keep-alive connection, and connections over the per-address, global and
//! buffered-bytes limits. Every loop is bounded in count and time and targets 127.0.0.0/8 only.
//!
//! A fresh client that must not be refused by the per-address limit the flood has filled binds
//! its socket to another loopback source address (127.0.0.2): per-address limits exist exactly
//! so that one source cannot starve the others.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::support::{init, Credentials, Server, CAM_VERSION};

/// Raises this test process's open-file soft limit to its hard limit (thousands of sockets).
fn raise_own_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

/// Connects from the loopback address `source` (e.g. 127.0.0.2).
async fn connect_from(source: &str, address: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().unwrap())?;
    tokio::time::timeout(Duration::from_secs(2), socket.connect(address))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

/// `GET /healthz` on `stream`; the status, or an error.
async fn healthz_on(stream: TcpStream) -> Result<u16, String> {
    let request = Request::get("/healthz")
        .header("host", "keyplane")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = super::support::send_on(stream, request).await?;
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    Ok(status)
}

/// A fresh client from `source` gets `GET /healthz` answered within a second.
async fn answers_within_a_second(source: &str, address: SocketAddr) -> Result<u16, String> {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(1), async {
        let stream = connect_from(source, address)
            .await
            .map_err(|error| error.to_string())?;
        healthz_on(stream).await
    })
    .await
    .map_err(|_| format!("no answer within 1 s (from {source})"))?;
    assert!(started.elapsed() < Duration::from_secs(1));
    result
}

/// A server started with `arguments` on a freshly initialised directory, which lives as long
/// as the returned handle.
fn serve_fresh(arguments: &[&str]) -> (tempfile::TempDir, Server) {
    let directory = tempfile::tempdir().unwrap();
    init(directory.path());
    let server = Server::start(directory.path(), arguments);
    (directory, server)
}

/// A connection that has sent the head of an upload declaring `length` bytes of body.
async fn start_upload(address: SocketAddr, length: usize) -> TcpStream {
    connected_having_sent(address, upload_head(length).as_bytes()).await
}

/// A connection that has sent `bytes`.
async fn connected_having_sent(address: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// What a connection received, as text (nothing when it received nothing).
fn lossy(received: Option<Vec<u8>>) -> String {
    String::from_utf8_lossy(received.as_deref().unwrap_or_default()).into_owned()
}

/// Whether the server closes `stream` (EOF or reset, after whatever it answered) within
/// `limit`; the bytes it sent before.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buffer = [0_u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(received),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

/// The server's resident-set high-water mark, in KiB.
fn peak_resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

/// The head of a TC3-looking POST announcing a `length`-byte body (never signed: the body
/// limit is decided before any authentication).
fn upload_head(length: usize) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: keyplane\r\nContent-Type: application/json\r\n\
         X-TC-Action: CreatePolicy\r\nX-TC-Version: {CAM_VERSION}\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_leave_healthz_answering() {
    raise_own_open_file_limit();
    let directory = tempfile::tempdir().unwrap();
    init(directory.path());
    // The server starts with the soft limit a service manager commonly sets (1024); it raises
    // it to the hard limit itself.
    let server = Server::start_configured(directory.path(), &[], |command| {
        // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                use rustix::process::{getrlimit, setrlimit, Resource};
                let mut limit = getrlimit(Resource::Nofile);
                limit.current = Some(1024);
                setrlimit(Resource::Nofile, limit).map_err(std::io::Error::from)
            });
        }
    });
    let mut idle = Vec::with_capacity(2000);
    let started = Instant::now();
    for _ in 0..2000 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "connecting took too long"
        );
        // A server that stops accepting (out of file descriptors) fills its backlog, and
        // connecting fails: the flood stops there and the fresh client below finds out.
        match connect_from("127.0.0.1", server.address).await {
            Ok(stream) => idle.push(stream),
            Err(_) => break,
        }
    }
    // Give the server a moment to accept (or refuse) every one of them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        answers_within_a_second("127.0.0.2", server.address).await,
        Ok(200),
        "with 2,000 idle connections open"
    );
    assert_eq!(
        answers_within_a_second("127.0.0.3", server.address).await,
        Ok(200)
    );
    assert_eq!(idle.len(), 2000, "every idle connection was made");
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_uploads_pin_no_memory_and_are_cut_off() {
    let (_directory, server) = serve_fresh(&[]);
    let pid = server.child.id();
    let before = peak_resident_kib(pid);
    let part = vec![b'a'; 2_500_000];
    let mut uploads = Vec::new();
    for _ in 0..50 {
        let mut stream = start_upload(server.address, 5_000_000).await;
        // Half of the body, then a stall. A server that refuses at once may close the
        // connection while this is still being written.
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.write_all(&part)).await;
        uploads.push(stream);
    }
    let mut refusals = 0;
    for stream in &mut uploads {
        let answer = closed_within(stream, Duration::from_secs(5)).await;
        let answer = answer.expect("a stalled 5 MB upload is cut off within 5 s");
        if String::from_utf8_lossy(&answer).contains("RequestSizeLimitExceeded") {
            refusals += 1;
        }
    }
    let grown_kib = peak_resident_kib(pid).saturating_sub(before);
    assert!(
        grown_kib < 64 * 1024,
        "50 stalled uploads grew the server's peak RSS by {grown_kib} KiB"
    );
    assert!(refusals > 0, "no upload was answered with the size error");
    assert_eq!(
        answers_within_a_second("127.0.0.1", server.address).await,
        Ok(200)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_is_cut_off_within_the_header_timeout() {
    let (_directory, server) = serve_fresh(&[]);
    let mut stream = connected_having_sent(server.address, b"GET /healthz HTTP/1.1\r\n").await;
    let started = Instant::now();
    let mut cut_off = None;
    // One header byte every 200 ms, for at most 30 s (the old header timeout).
    for round in 0..150_u32 {
        let byte = [b'a' + (round % 26) as u8];
        let written = if round % 40 == 39 {
            stream.write_all(b": x\r\nX-").await
        } else {
            stream.write_all(&byte).await
        };
        if written.is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        let mut buffer = [0_u8; 1024];
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut_off = Some(started.elapsed());
                break;
            }
            _ => {}
        }
    }
    let cut_off = cut_off.expect("the slow header sender was never disconnected");
    assert!(
        cut_off < Duration::from_secs(12),
        "disconnected after {cut_off:?}, the header timeout is 10 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_cut_off_at_the_minimum_rate() {
    let (_directory, server) = serve_fresh(&["--min-body-rate", "1024", "--body-rate-grace", "1"]);
    let mut stream = start_upload(server.address, 20_000).await;
    let started = Instant::now();
    let mut answer = None;
    for _ in 0..100 {
        if stream.write_all(b"{{{{{{{{{{").await.is_err() {
            break;
        }
        if let Some(bytes) = closed_within(&mut stream, Duration::from_millis(100)).await {
            answer = Some(bytes);
            break;
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(4),
        "a 100 B/s body was held for {elapsed:?}"
    );
    let answer = lossy(answer);
    assert!(answer.contains("too slowly"), "{answer}");

    // A fast start earns no long pause: half of the body, then silence, is cut off after the
    // grace period, not when the average rate finally runs out.
    let mut stream = start_upload(server.address, 60_000).await;
    stream.write_all(&[b'a'; 30_000]).await.unwrap();
    let started = Instant::now();
    let answer = closed_within(&mut stream, Duration::from_secs(5)).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "held for {elapsed:?}");
    let answer = lossy(answer);
    assert!(answer.contains("too slowly"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limits_are_closed_at_once() {
    let (_directory, server) = serve_fresh(&[
        "--max-connections-per-address",
        "8",
        "--max-connections",
        "12",
    ]);
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(connect_from("127.0.0.1", server.address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut refused = connect_from("127.0.0.1", server.address).await.unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut refused, Duration::from_secs(1))
            .await
            .is_some_and(|bytes| bytes.is_empty()),
        "the ninth connection from 127.0.0.1 was not closed at once"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // Another source address is not affected.
    assert_eq!(
        answers_within_a_second("127.0.0.2", server.address).await,
        Ok(200)
    );
    // The global limit: 8 + 4 from other addresses fill it (once the server has seen the
    // client from 127.0.0.2 go).
    tokio::time::sleep(Duration::from_millis(500)).await;
    for source in ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"] {
        held.push(connect_from(source, server.address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut refused = connect_from("127.0.0.7", server.address).await.unwrap();
    assert!(closed_within(&mut refused, Duration::from_secs(1))
        .await
        .is_some());
    // Closing connections gives their places back.
    held.clear();
    let mut answered = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(status) = answers_within_a_second("127.0.0.1", server.address).await {
            answered = Some(status);
            break;
        }
    }
    assert_eq!(answered, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_bytes_in_flight_are_capped_across_connections() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init(directory.path()));
    let server = Server::start(directory.path(), &["--max-buffered-body-bytes", "100000"]);
    // The first upload holds 60,000 bytes of the budget while it stalls.
    let mut first = start_upload(server.address, 60_000).await;
    first.write_all(b"{").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A second one would take the total over: the dialect's throttling error.
    let mut second = start_upload(server.address, 60_000).await;
    let answer = closed_within(&mut second, Duration::from_secs(3)).await;
    let answer = lossy(answer);
    assert!(answer.contains("RequestLimitExceeded"), "{answer}");
    drop(first);
    // Small signed calls still pass once the stalled upload is gone.
    let mut answered = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let reply =
            super::support::call(server.address, &root, CAM_VERSION, "ListAccessKeys", "{}").await;
        if reply.error_code().is_none() {
            answered = Some(());
            break;
        }
    }
    assert!(answered.is_some(), "signed calls did not recover");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_is_refused_as_soon_as_it_passes_the_limit() {
    let (_directory, server) = serve_fresh(&["--max-request-body-bytes", "20000"]);
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(
            format!(
                "POST / HTTP/1.1\r\nHost: keyplane\r\nContent-Type: application/json\r\n\
                 X-TC-Action: CreatePolicy\r\nX-TC-Version: {CAM_VERSION}\r\n\
                 Transfer-Encoding: chunked\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // 24 KiB in 8 KiB chunks, then nothing more: the answer must not wait for the rest.
    for _ in 0..3 {
        let chunk = format!("2000\r\n{}\r\n", "a".repeat(0x2000));
        stream.write_all(chunk.as_bytes()).await.unwrap();
    }
    let started = Instant::now();
    let answer = closed_within(&mut stream, Duration::from_secs(3)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let answer = lossy(answer);
    assert!(answer.contains("RequestSizeLimitExceeded"), "{answer}");
    assert!(answer.contains("20000 bytes"), "{answer}");

    // A slightly over-sized body with its length declared: refused, read and discarded, and
    // the connection carries the next request.
    let mut stream = start_upload(server.address, 30_000).await;
    stream.write_all(&[b'a'; 30_000]).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: keyplane\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answers = closed_within(&mut stream, Duration::from_secs(3)).await;
    let answers = lossy(answers);
    assert!(answers.contains("RequestSizeLimitExceeded"), "{answers}");
    assert!(answers.ends_with("ok\n"), "{answers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let (_directory, server) = serve_fresh(&["--header-read-timeout", "2"]);
    let mut stream = connected_having_sent(
        server.address,
        b"GET /healthz HTTP/1.1\r\nHost: keyplane\r\n\r\n",
    )
    .await;
    let started = Instant::now();
    let answer = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("the idle keep-alive connection was not closed within 5 s");
    let elapsed = started.elapsed();
    assert!(String::from_utf8_lossy(&answer).ends_with("ok\n"));
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(4),
        "closed after {elapsed:?}"
    );
}
