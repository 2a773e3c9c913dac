//! Keyplane's own secrets, against the real binary: `serve` without a terminal writes the
//! root credentials of a new installation to a 0600 file instead of its output; a master key
//! file others may read is refused; and the master key and database URL given in the
//! environment are gone from the server's `/proc/<pid>/environ`.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cluster::fresh_database_url;
use super::support::{
    assert_succeeded, audit_output, binary, call, init, init_with, Credentials, CAM_VERSION,
};

/// A `keyplane serve` with its stdout and stderr captured, killed on drop.
struct CapturedServer {
    child: Child,
    address: std::net::SocketAddr,
    stdout: String,
}

impl CapturedServer {
    /// Starts `keyplane serve` with `environment` added, stderr into `stderr_file`, and waits
    /// for its `listening on` line.
    #[allow(
        clippy::zombie_processes,
        reason = "the child is killed and waited for on the early exit, and by Drop after"
    )]
    fn start(
        data_dir: &Path,
        arguments: &[&str],
        environment: &[(&str, &str)],
        stderr_file: &Path,
    ) -> CapturedServer {
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(arguments)
            .envs(environment.iter().copied())
            .env("KEYPLANE_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr_file).unwrap())
            .spawn()
            .expect("starting keyplane serve");
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut stdout = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server exited before listening: {stdout}{}",
                    std::fs::read_to_string(stderr_file).unwrap_or_default()
                );
            }
            stdout.push_str(&line);
            if let Some(address) = line.trim_end().strip_prefix("listening on http://") {
                let address = address.parse().unwrap();
                // The rest is drained so that the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in reader.lines() {});
                return CapturedServer {
                    child,
                    address,
                    stdout,
                };
            }
        }
    }
}

impl Drop for CapturedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_without_a_terminal_writes_the_root_credentials_to_a_private_file() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path().join("fresh");
    let stderr_file = directory.path().join("serve.stderr");
    let server = CapturedServer::start(&data_dir, &[], &[], &stderr_file);

    let path = data_dir.join("root-credentials.json");
    let mode = std::fs::metadata(&path)
        .expect("the credentials file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{path:?} is private");
    let credentials: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let root = Credentials::root(&credentials);
    let aliyun_secret = credentials["aliyun"]["access_key_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!root.secret_key.is_empty() && !aliyun_secret.is_empty());
    let users = call(server.address, &root, CAM_VERSION, "ListUsers", "{}").await;
    assert_eq!(users.error_code(), None, "the written credentials work");

    let stdout = server.stdout.clone();
    drop(server);
    let stderr = std::fs::read_to_string(&stderr_file).unwrap();
    for output in [&stdout, &stderr] {
        assert!(
            output.contains("root-credentials.json"),
            "the path is said: {output}"
        );
        for secret in [root.secret_key.as_str(), aliyun_secret.as_str()] {
            assert!(
                !output.contains(secret),
                "a secret reached the output: {output}"
            );
        }
    }
}

/// Runs a `keyplane` command on `data_dir` for at most 10 s: its exit status (`None` when it
/// was still running and was killed) and its standard error.
fn run_bounded(command: &[&str], data_dir: &Path) -> (Option<std::process::ExitStatus>, String) {
    let stderr_file = data_dir.join("bounded.stderr");
    let mut child = Command::new(binary())
        .args(command)
        .arg("--data-dir")
        .arg(data_dir)
        .env("KEYPLANE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_file).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&stderr_file).unwrap_or_default();
    (status, stderr)
}

#[test]
fn a_master_key_file_others_may_read_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    init(directory.path());
    let key_file = directory.path().join("master.key");
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(mode)).unwrap();
        for command in [&["serve", "--listen", "127.0.0.1:0"][..], &["audit"][..]] {
            let (status, stderr) = run_bounded(command, directory.path());
            assert!(
                status.is_some_and(|status| !status.success()),
                "{command:?} with mode {mode:o} did not fail at once: {stderr}"
            );
            assert!(
                stderr.contains("chmod 600") && stderr.contains(&key_file.display().to_string()),
                "{command:?} with mode {mode:o}: {stderr}"
            );
        }
    }
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_succeeded(&audit_output(directory.path()));
}

#[tokio::test]
async fn the_server_environment_holds_neither_the_master_key_nor_the_database_url() {
    let directory = tempfile::tempdir().unwrap();
    let database_url = fresh_database_url("environment_scrubbed").await;
    if let Some(url) = &database_url {
        init_with(directory.path(), &["--database-url", url]);
    } else {
        println!("environment_scrubbed: the database URL part SKIPPED (SQLite only)");
        init(directory.path());
    }
    let key_file = directory.path().join("master.key");
    let master_key = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_owned();
    // The key now comes from the environment only.
    let moved = directory.path().join("elsewhere.key");
    std::fs::rename(&key_file, &moved).unwrap();
    let mut environment = vec![("KEYPLANE_MASTER_KEY", master_key.as_str())];
    if let Some(url) = &database_url {
        environment.push(("KEYPLANE_DATABASE_URL", url.as_str()));
    }
    let stderr_file = directory.path().join("serve.stderr");
    let server = CapturedServer::start(directory.path(), &[], &environment, &stderr_file);

    let environ = std::fs::read(format!("/proc/{}/environ", server.child.id())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        !environ.contains(&master_key),
        "the master key is in the server's environment"
    );
    if let Some(url) = &database_url {
        assert!(
            !environ.contains(url.as_str()),
            "the database URL is in the server's environment"
        );
    }
    assert!(
        environ.contains("KEYPLANE_LOG=info"),
        "the rest of the environment is left alone"
    );

    // ...and it serves, with the key it was given.
    let started = Instant::now();
    let health = loop {
        let health = super::support::readyz(server.address).await;
        if health.status == 200 || started.elapsed() > Duration::from_secs(5) {
            break health;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health.status, 200);
}
