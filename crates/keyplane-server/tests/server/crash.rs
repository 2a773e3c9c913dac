//! Crash safety: a server is driven with CreateAccessKey (and DeleteAccessKey) at full speed
//! and killed with SIGKILL mid-run; after a restart every key whose creation was acknowledged
//! and whose deletion was not is there and authenticates, every acknowledged deletion stuck,
//! and no user holds more keys than the quota. Runs on SQLite always and on PostgreSQL when
//! `KEYPLANE_TEST_DATABASE_URL` is set.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::cluster::fresh_database_url;
use super::support::{
    attach_policy, call, create_user_with, init_with, Credentials, Server, CAM_VERSION,
    MANAGE_OWN_ACCESS_KEYS,
};

/// Where a key's lifecycle stood, as far as its client knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Creation acknowledged; no delete sent.
    Created,
    /// Delete sent, no answer: either outcome is correct.
    DeleteSent,
    /// Deletion acknowledged.
    Deleted,
}

/// What the clients were told, per key id: its secret and its stage.
#[derive(Default)]
struct Acknowledged {
    keys: HashMap<String, (String, Stage)>,
}

const WORKERS: usize = 16;

async fn drive_until_killed(data_dir: &Path, extra: &[&str], root: &Credentials) {
    let users: Vec<u64> = (0..WORKERS)
        .map(|index| {
            create_user_with(data_dir, &format!("crash-{index}"), extra)["uin"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut arguments = vec!["--disable-rate-limits"];
    arguments.extend_from_slice(extra);
    let mut server = Server::start(data_dir, &arguments);
    let address = server.address;
    for uin in &users {
        attach_policy(address, root, *uin, MANAGE_OWN_ACCESS_KEYS).await;
    }
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for uin in users.clone() {
        let root = root.clone();
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(reply) = tokio::time::timeout(
                    Duration::from_secs(2),
                    try_call(
                        address,
                        &root,
                        "CreateAccessKey",
                        json!({ "TargetUin": uin }),
                    ),
                )
                .await
                else {
                    break;
                };
                let Some(reply) = reply else { break };
                let key = &reply["Response"]["AccessKey"];
                let Some(key_id) = key["AccessKeyId"].as_str() else {
                    continue;
                };
                let secret = key["SecretAccessKey"].as_str().unwrap().to_owned();
                acknowledged
                    .lock()
                    .unwrap()
                    .keys
                    .insert(key_id.to_owned(), (secret, Stage::Created));
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                acknowledged.lock().unwrap().keys.get_mut(key_id).unwrap().1 = Stage::DeleteSent;
                let delete = json!({ "AccessKeyId": key_id, "TargetUin": uin });
                let Ok(Some(reply)) = tokio::time::timeout(
                    Duration::from_secs(2),
                    try_call(address, &root, "DeleteAccessKey", delete),
                )
                .await
                else {
                    break;
                };
                if reply["Response"]["Error"].is_null() {
                    acknowledged.lock().unwrap().keys.get_mut(key_id).unwrap().1 = Stage::Deleted;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.child.kill().expect("SIGKILL");
    let _ = server.child.wait();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
    drop(server);

    // Every deleted key is checked from the one test address: no failed-authentication
    // throttle in the way.
    let mut arguments = vec!["--auth-failure-limit", "0"];
    arguments.extend_from_slice(extra);
    let restarted = Server::start(data_dir, &arguments);
    let acknowledged = std::mem::take(&mut acknowledged.lock().unwrap().keys);
    assert!(
        acknowledged.len() > 20,
        "the run acknowledged only {} creates",
        acknowledged.len()
    );
    let mut surviving_per_user: HashMap<u64, usize> = HashMap::new();
    for uin in &users {
        let listed = call(
            restarted.address,
            root,
            CAM_VERSION,
            "ListAccessKeys",
            &json!({ "TargetUin": uin }).to_string(),
        )
        .await;
        let keys = listed.json()["Response"]["AccessKeys"]
            .as_array()
            .unwrap()
            .clone();
        assert!(keys.len() <= 2, "user {uin} holds {} keys", keys.len());
        surviving_per_user.insert(*uin, keys.len());
        for key in keys {
            let key_id = key["AccessKeyId"].as_str().unwrap();
            if let Some((_, stage)) = acknowledged.get(key_id) {
                assert_ne!(
                    *stage,
                    Stage::Deleted,
                    "{key_id}: its deletion was acknowledged, yet it is back"
                );
            }
        }
    }
    for (key_id, (secret, stage)) in &acknowledged {
        let credentials = Credentials {
            secret_id: key_id.clone(),
            secret_key: secret.clone(),
        };
        let reply = call(
            restarted.address,
            &credentials,
            CAM_VERSION,
            "ListAccessKeys",
            "{}",
        )
        .await;
        let code = reply.error_code();
        match stage {
            Stage::Created => {
                assert_eq!(
                    code, None,
                    "{key_id}: acknowledged, never deleted, must authenticate"
                );
            }
            Stage::Deleted => {
                assert_eq!(
                    code.as_deref(),
                    Some("AuthFailure.SecretIdNotFound"),
                    "{key_id} was deleted"
                );
            }
            Stage::DeleteSent => assert!(
                code.is_none() || code.as_deref() == Some("AuthFailure.SecretIdNotFound"),
                "{key_id}: {code:?}"
            ),
        }
    }
    let in_flight = acknowledged
        .values()
        .filter(|(_, stage)| *stage != Stage::Deleted)
        .count();
    assert!(
        in_flight <= WORKERS,
        "at most one key in flight per worker: {in_flight}"
    );
}

/// Signs and sends; `None` when the server is gone.
async fn try_call(
    address: std::net::SocketAddr,
    root: &Credentials,
    action: &str,
    body: serde_json::Value,
) -> Option<serde_json::Value> {
    let request = super::support::signed(address, root, CAM_VERSION, action, &body.to_string());
    let stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .ok()?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender.send_request(request).await.ok()?;
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .ok()?
        .to_bytes();
    serde_json::from_slice(&body).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_on_sqlite() {
    let directory = tempfile::tempdir().unwrap();
    let root = Credentials::root(&init_with(directory.path(), &[]));
    drive_until_killed(directory.path(), &[], &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_on_postgres() {
    let Some(url) = fresh_database_url("crash").await else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let extra = ["--database-url", url.as_str()];
    let root = Credentials::root(&init_with(directory.path(), &extra));
    drive_until_killed(directory.path(), &extra, &root).await;
}
