//! `keyplane bench`: the project's load generator. It signs every request exactly as the
//! official SDKs do (TC3-HMAC-SHA256, POST, JSON; ACS3-HMAC-SHA256 for the Alibaba read), drives a running server over keep-alive
//! HTTP/1.1 connections (one per concurrent worker) for a fixed duration, checks every answer,
//! and reports throughput and latency percentiles. Every performance figure in docs/ comes
//! from it.

use keyplane_engine::{Headers, RequestView};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use keyplane_core::{AuthorityConfig, Clock, RequestContext};
use keyplane_crypto::tencent::{Tc3Request, Tc3Signer};
use serde_json::json;
use tokio::net::TcpStream;

use crate::config::DataArgs;
use crate::installation::{Installation, SystemClock};

/// What the generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// `GET /healthz`: the server's floor.
    Healthz,
    /// Signed CAM `ListAccessKeys` by the root.
    ListAccessKeys,
    /// Signed CAM `CreateAccessKey` then `DeleteAccessKey`, one user per worker, so no user
    /// exceeds its quota; throughput counts creates.
    CreateAccessKey,
    /// Signed CAM `ListAccessKeys` by a sub-user with ten custom policies attached (thirty
    /// statements, denies and source-address conditions among them), set up through the API
    /// by the root first: the cost of authorization against `list-access-keys` by the root.
    ListAccessKeysWithPolicies,
    /// Signed IMS `ListAccessKeys` by the root, ACS3-HMAC-SHA256 as the Python SDK signs it,
    /// with a fresh signature nonce every request: the Alibaba read beside `list-access-keys`.
    AliyunListAccessKeys,
}

/// How many policies the sub-user of `list-access-keys-with-policies` holds.
const BENCH_POLICIES: usize = 10;

/// Flags of `keyplane bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Server address, e.g. 127.0.0.1:8080 (only loopback targets are allowed). Repeat it for
    /// several nodes: workers are spread over them in turn.
    #[arg(long, required = true)]
    pub target: Vec<SocketAddr>,
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Concurrent connections, one worker each.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Unmeasured seconds first.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Root credentials file: the JSON `keyplane init --json` printed.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// The server's data directory, to create the users the create scenario spreads over.
    #[command(flatten)]
    pub data: DataArgs,
    /// Offered load in requests per second across all workers (open loop: each request is
    /// scheduled in advance and its latency counts from its scheduled time, so a slow server
    /// cannot hide queueing). Without it, every worker sends as fast as it can (closed loop).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

struct Credentials {
    secret_id: String,
    secret_key: String,
    /// The root's Alibaba access key, when the credentials file has one.
    aliyun: Option<(String, String)>,
}

/// One request to send.
struct Call {
    action: &'static str,
    body: String,
}

/// What a worker measured.
#[derive(Default)]
struct WorkerResult {
    latencies_microseconds: Vec<u32>,
    counted: u64,
    errors: u64,
}

fn read_credentials(path: &PathBuf) -> anyhow::Result<Credentials> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the credentials file {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).context("parsing the credentials file")?;
    let field = |name: &str| {
        value["tencent"][name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the credentials file has no tencent.{name}"))
    };
    let aliyun = match (
        value["aliyun"]["access_key_id"].as_str(),
        value["aliyun"]["access_key_secret"].as_str(),
    ) {
        (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        _ => None,
    };
    Ok(Credentials {
        secret_id: field("secret_id")?,
        secret_key: field("secret_key")?,
        aliyun,
    })
}

/// Signs IMS `ListAccessKeys` as the Alibaba Python SDK does (ACS3-HMAC-SHA256, POST, empty
/// body, every `x-acs-*` header, `accept` and `host` signed), with a fresh nonce.
fn aliyun_signed_request(
    host: &str,
    access_key_id: &str,
    access_key_secret: &str,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let date = SystemClock
        .now()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .context("formatting x-acs-date")?;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let payload_hash = keyplane_crypto::aliyun::acs3_hashed_payload(b"");
    let headers = [
        ("host", host),
        ("x-acs-version", "2019-08-15"),
        ("x-acs-action", "ListAccessKeys"),
        ("x-acs-date", date.as_str()),
        ("x-acs-signature-nonce", nonce.as_str()),
        ("accept", "application/json"),
        ("x-acs-content-sha256", payload_hash.as_str()),
    ];
    let signed_headers: Vec<String> = headers.iter().map(|(name, _)| (*name).to_owned()).collect();
    let authorization = keyplane_crypto::aliyun::sign_acs3(
        &RequestView {
            method: "POST",
            path: "/",
            raw_query: "",
            headers: Headers::new(&headers),
            body: b"",
        },
        access_key_id,
        &signed_headers,
        access_key_secret.as_bytes(),
    );
    let mut request = Request::builder().method(Method::POST).uri("/");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    Ok(request
        .header("Authorization", authorization)
        .body(Full::new(Bytes::new()))?)
}

/// Signs `call` as the Python SDK does (TC3, POST, JSON; `content-type;host` signed).
fn signed_request(
    host: &str,
    signer: &mut Tc3Signer,
    call: &Call,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let timestamp = SystemClock.now().unix_timestamp().to_string();
    let headers = [("Content-Type", "application/json"), ("Host", host)];
    let tc3 = Tc3Request {
        request: RequestView {
            method: "POST",
            path: "/",
            raw_query: "",
            headers: Headers::new(&headers),
            body: call.body.as_bytes(),
        },
        timestamp: &timestamp,
    };
    let authorization = signer
        .authorization(&tc3, &["content-type", "host"])
        .map_err(|error| anyhow::anyhow!("signing: {error}"))?;
    Ok(Request::builder()
        .method(Method::POST)
        .uri("/")
        .header("Content-Type", "application/json")
        .header("Host", host)
        .header("X-TC-Action", call.action)
        .header("X-TC-Version", "2019-01-16")
        .header("X-TC-Timestamp", timestamp)
        .header("Authorization", authorization)
        .body(Full::new(Bytes::from(call.body.clone())))?)
}

/// Sends one request and returns the response body, or an error text.
async fn exchange(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<Bytes> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("HTTP {status}");
    }
    Ok(body)
}

fn error_in(body: &[u8]) -> bool {
    body.windows(9).any(|window| window == b"\"Error\":{")
}

async fn connect(target: SocketAddr) -> anyhow::Result<http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(target).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

async fn run_worker(
    worker_index: usize,
    args: Arc<BenchArgs>,
    credentials: Option<Arc<Credentials>>,
    user_uin: Option<u64>,
    measure_from: Instant,
    stop_at: Instant,
) -> anyhow::Result<WorkerResult> {
    let target = args.target[worker_index % args.target.len()];
    let mut sender = connect(target).await?;
    let mut result = WorkerResult::default();
    let host = target.to_string();
    let mut signer = credentials.as_deref().map(|credentials| {
        Tc3Signer::new(
            &credentials.secret_id,
            credentials.secret_key.as_bytes(),
            "cam",
        )
    });
    let interval = args
        .rate
        .filter(|rate| *rate > 0.0)
        .map(|rate| Duration::from_secs_f64(args.concurrency as f64 / rate));
    // Workers are spread evenly over one interval, so the offered load is smooth rather than
    // 64 requests in a burst at every tick.
    let mut next_send = Instant::now()
        + interval
            .map(|interval| interval.mul_f64(worker_index as f64 / args.concurrency as f64))
            .unwrap_or_default();
    while Instant::now() < stop_at {
        let started = match interval {
            Some(interval) => {
                // On time: the request starts when the timer fires (tokio's timer has a 1 ms
                // grain, which is not the server's latency). Behind schedule, because the
                // previous answer came late: latency counts from when it should have started.
                let scheduled = next_send;
                next_send += interval;
                if scheduled > Instant::now() {
                    tokio::time::sleep_until(scheduled.into()).await;
                    Instant::now()
                } else {
                    scheduled
                }
            }
            None => Instant::now(),
        };
        let ok = match args.scenario {
            Scenario::Healthz => {
                let request = Request::get("/healthz")
                    .header("Host", host.as_str())
                    .body(Full::new(Bytes::new()))?;
                exchange(&mut sender, request).await.is_ok()
            }
            Scenario::ListAccessKeys | Scenario::ListAccessKeysWithPolicies => {
                let signer = signer.as_mut().context("credentials are required")?;
                let call = Call {
                    action: "ListAccessKeys",
                    body: "{}".to_owned(),
                };
                let body = exchange(&mut sender, signed_request(&host, signer, &call)?).await;
                matches!(body, Ok(body) if !error_in(&body))
            }
            Scenario::AliyunListAccessKeys => {
                let (key_id, secret) = credentials
                    .as_deref()
                    .and_then(|credentials| credentials.aliyun.as_ref())
                    .context("the credentials file has no aliyun key")?;
                let request = aliyun_signed_request(&host, key_id, secret)?;
                exchange(&mut sender, request).await.is_ok()
            }
            Scenario::CreateAccessKey => {
                let signer = signer.as_mut().context("credentials are required")?;
                let uin = user_uin.context("a user is required")?;
                let create = Call {
                    action: "CreateAccessKey",
                    body: json!({ "TargetUin": uin }).to_string(),
                };
                match exchange(&mut sender, signed_request(&host, signer, &create)?).await {
                    Ok(body) if !error_in(&body) => {
                        let value: serde_json::Value = serde_json::from_slice(&body)?;
                        let key_id = value["Response"]["AccessKey"]["AccessKeyId"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        let delete = Call {
                            action: "DeleteAccessKey",
                            body: json!({ "AccessKeyId": key_id, "TargetUin": uin }).to_string(),
                        };
                        let deleted =
                            exchange(&mut sender, signed_request(&host, signer, &delete)?).await;
                        matches!(deleted, Ok(body) if !error_in(&body))
                    }
                    _ => false,
                }
            }
        };
        if started < measure_from {
            continue;
        }
        let elapsed = started.elapsed();
        if ok {
            result.counted += 1;
            result
                .latencies_microseconds
                .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        } else {
            result.errors += 1;
            if result.errors > 1_000 && result.counted == 0 {
                bail!("every request fails; is the server running and are the credentials right?");
            }
        }
    }
    Ok(result)
}

async fn create_bench_users(args: &BenchArgs, count: usize) -> anyhow::Result<Vec<u64>> {
    let file = crate::config::FileConfig::load(args.data.config.as_deref())?;
    let data = crate::config::DataConfig::resolve(&args.data, &file);
    let installation = Installation::open(&data, AuthorityConfig::default(), false).await?;
    let account = installation
        .authority
        .primary_account()
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let prefix = uuid::Uuid::new_v4().simple().to_string();
    let mut uins = Vec::with_capacity(count);
    for index in 0..count {
        let context = RequestContext::operator(
            SystemClock.now(),
            uuid::Uuid::new_v4().to_string(),
            "CreateUser",
        );
        let user = installation
            .authority
            .create_user(
                &context,
                account.id,
                &format!("bench-{}-{index}", &prefix[..8]),
                Default::default(),
            )
            .await
            .map_err(|error| {
                let message = crate::operator_message::describe(&error);
                anyhow::anyhow!("creating a bench user: {message}")
            })?;
        uins.push(user.uin);
    }
    installation.close().await;
    Ok(uins)
}

/// Signs `call` as `root` and sends it on a fresh connection; the `Response` object, or an
/// error naming the action and the code.
async fn root_call(
    target: SocketAddr,
    signer: &mut Tc3Signer,
    action: &'static str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let host = target.to_string();
    let mut sender = connect(target).await?;
    let call = Call {
        action,
        body: body.to_string(),
    };
    let answer = exchange(&mut sender, signed_request(&host, signer, &call)?).await?;
    let value: serde_json::Value = serde_json::from_slice(&answer)?;
    if let Some(error) = value["Response"].get("Error") {
        bail!("{action} refused: {error}");
    }
    Ok(value["Response"].clone())
}

/// Creates, through the API as the root, a sub-user with a key and ten custom policies of
/// three statements each: nine about other actions (allows, denies, some conditioned on the
/// source address), so that every statement must be looked at, and the tenth allowing
/// `cam:ListAccessKeys` on the user itself. Returns the sub-user's key.
async fn create_policy_user(target: SocketAddr, root: &Credentials) -> anyhow::Result<Credentials> {
    let mut signer = Tc3Signer::new(&root.secret_id, root.secret_key.as_bytes(), "cam");
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let added = root_call(
        target,
        &mut signer,
        "AddUser",
        json!({ "Name": format!("bench-policies-{suffix}"), "UseApi": 1 }),
    )
    .await?;
    let uin = added["Uin"].as_u64().context("AddUser gave no Uin")?;
    for index in 0..BENCH_POLICIES {
        let statements = if index + 1 == BENCH_POLICIES {
            json!([
                {"effect": "deny", "action": ["cam:DeleteUser", "cam:AddUser"], "resource": "*"},
                {"effect": "allow", "action": "cam:Get*", "resource": "*",
                 "condition": {"ip_equal": {"qcs:ip": ["10.0.0.0/8", "127.0.0.0/8"]}}},
                {"effect": "allow", "action": ["cam:ListAccessKeys"],
                 "resource": "qcs::cam::uin/${AccountId}:uin/${Uin}"},
            ])
        } else {
            json!([
                {"effect": "allow", "action": [format!("apigw:Describe{index}*"), "apigw:EnableApiKey"],
                 "resource": format!("qcs::apigw::uin/*:apikey/key{index}-*")},
                {"effect": "deny", "action": format!("cam:Delete{index}*"), "resource": "*",
                 "condition": {"ip_not_equal": {"qcs:ip": ["192.0.2.0/24"]}}},
                {"effect": "allow", "action": ["cam:ListAttachedUserPolicies", "cam:GetUser"],
                 "resource": "*", "condition": {"date_less_than": {"qcs:current_time": "2099-01-01T00:00:00Z"}}},
            ])
        };
        let document = json!({ "version": "2.0", "statement": statements });
        let created = root_call(
            target,
            &mut signer,
            "CreatePolicy",
            json!({
                "PolicyName": format!("bench-{suffix}-{index}"),
                "PolicyDocument": document.to_string(),
            }),
        )
        .await?;
        let policy_id = created["PolicyId"]
            .as_u64()
            .context("CreatePolicy gave no PolicyId")?;
        root_call(
            target,
            &mut signer,
            "AttachUserPolicy",
            json!({ "PolicyId": policy_id, "AttachUin": uin }),
        )
        .await?;
    }
    Ok(Credentials {
        aliyun: None,
        secret_id: added["SecretId"]
            .as_str()
            .context("AddUser gave no SecretId")?
            .to_owned(),
        secret_key: added["SecretKey"]
            .as_str()
            .context("AddUser gave no SecretKey")?
            .to_owned(),
    })
}

fn percentile(sorted: &[u32], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    f64::from(sorted[index.min(sorted.len() - 1)]) / 1000.0
}

/// Runs the benchmark and prints its result.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.target.iter().any(|target| !target.ip().is_loopback()) {
        bail!("keyplane bench only targets loopback addresses");
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let credentials = match &args.credentials {
        Some(path) => Some(Arc::new(read_credentials(path)?)),
        None if args.scenario == Scenario::Healthz => None,
        None => bail!("--credentials is required for signed scenarios"),
    };
    let users = if args.scenario == Scenario::CreateAccessKey {
        create_bench_users(&args, args.concurrency).await?
    } else {
        Vec::new()
    };
    // The policy scenario signs as a sub-user the root sets up first.
    let credentials = match (args.scenario, credentials) {
        (Scenario::ListAccessKeysWithPolicies, Some(root)) => {
            Some(Arc::new(create_policy_user(args.target[0], &root).await?))
        }
        (_, credentials) => credentials,
    };
    let args = Arc::new(args);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let stop_at = measure_from + Duration::from_secs(args.duration);
    let mut workers = Vec::with_capacity(args.concurrency);
    for index in 0..args.concurrency {
        workers.push(tokio::spawn(run_worker(
            index,
            args.clone(),
            credentials.clone(),
            users.get(index).copied(),
            measure_from,
            stop_at,
        )));
    }
    let mut latencies = Vec::new();
    let mut counted = 0_u64;
    let mut errors = 0_u64;
    for worker in workers {
        let result = worker.await??;
        counted += result.counted;
        errors += result.errors;
        latencies.extend(result.latencies_microseconds);
    }
    latencies.sort_unstable();
    let seconds = args.duration as f64;
    let throughput = counted as f64 / seconds;
    let summary = json!({
        "scenario": format!("{:?}", args.scenario),
        "concurrency": args.concurrency,
        "offered_rate_per_second": args.rate,
        "duration_seconds": args.duration,
        "requests": counted,
        "errors": errors,
        "throughput_per_second": (throughput * 10.0).round() / 10.0,
        "latency_milliseconds": {
            "p50": percentile(&latencies, 0.50),
            "p90": percentile(&latencies, 0.90),
            "p99": percentile(&latencies, 0.99),
            "max": percentile(&latencies, 1.0),
        },
    });
    if args.json {
        println!("{summary}");
    } else {
        println!(
            "{:?}{}: {} ok, {} errors in {} s at concurrency {} -> {:.1}/s; latency ms p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}",
            args.scenario,
            args.rate.map(|rate| format!(" (offered {rate}/s)")).unwrap_or_default(),
            counted,
            errors,
            args.duration,
            args.concurrency,
            throughput,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.90),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
        );
    }
    Ok(())
}
